"""``actclr-train segment``: unsupervised action segmentation of PKU-MMD long videos."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import (
    build_recipe,
    encoder_options,
    epoch_progress,
    finish,
    progress_display,
    recipe_options,
    run_metrics,
    setup,
    title_of,
)
from actclr.eval.recipes import LINEAR_RECIPE


@click.command("segment")
@encoder_options
@recipe_options(LINEAR_RECIPE, val_fraction=0.2)
@click.option("--window", type=click.IntRange(min=1), default=50, show_default=True,
              help="Window length in raw frames (normalised to the profile's frames, like a clip).")
@click.option("--stride", type=click.IntRange(min=1), default=10, show_default=True, help="Frames between windows.")
@click.option("--feature-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Windows per encoder batch.")
def segment(data: str, benchmark: str | None, checkpoint: str, out: Path, stream: str | None, device: str,
            seed: int, workers: int, model_config: str | None, bn_calibration: bool, epochs: int | None,
            lr: float | None, batch_size: int | None, milestones: tuple | None, val_fraction: float, window: int,
            stride: int, feature_batch_size: int) -> None:
    """Frozen-encoder window features + a linear classifier (background = its own class) -> per-frame
    labels of the test videos; ACC, MACC, FWIoU, mIoU (paper Table 6).

    --val-fraction holds out training VIDEOS. Writes OUT/metrics.json, OUT/summary.md and
    OUT/predictions.npz (per-frame predictions of every test video).
    """
    import numpy as np

    from actclr.eval.report import Stopwatch
    from actclr.eval.segmentation import segmentation_evaluation
    from actclr.store.atomic import atomic_path

    clock = Stopwatch()
    recipe = build_recipe(LINEAR_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        s = setup(data, benchmark, checkpoint, stream, device, seed, model_config, bn_calibration, shown.progress)
        if s.dataset.videos_path is None:
            raise click.UsageError(f"{data}: no videos.h5; segmentation needs a prepared PKU-MMD dataset")
        segmented = segmentation_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                            window=window, stride=stride, recipe=recipe, val_fraction=val_fraction,
                                            seed=seed, batch_size=feature_batch_size,
                                            on_epoch=epoch_progress(shown.progress, recipe.epochs),
                                            progress=shown.progress)
    r = segmented.results
    knobs = {**recipe.to_dict(), "window": window, "stride": stride, "val_fraction": val_fraction, "seed": seed,
             "checkpoint": checkpoint}
    headline = {"ACC": r["acc"], "MACC": r["macc"], "FWIoU": r["fwiou"], "mIoU": r["miou"]}
    metrics = run_metrics("segment", title_of("action segmentation", s), s, knobs, headline, r, segmented.notes,
                          clock.elapsed)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "predictions.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **segmented.predictions)
    finish(out, metrics)
