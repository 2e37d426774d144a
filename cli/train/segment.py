"""``actclr-train segment``: unsupervised action segmentation of PKU-MMD long videos."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import build_recipe, encoder_options, progress_display, recipe_options, show
from actclr.eval.recipes import LINEAR_RECIPE


@click.command("segment")
@encoder_options
@recipe_options(LINEAR_RECIPE, val_fraction=0.2)
@click.option("--window", type=click.IntRange(min=1), default=50, show_default=True,
              help="Window length in raw frames (normalised to the profile's frames, like a clip).")
@click.option("--stride", type=click.IntRange(min=1), default=10, show_default=True, help="Frames between windows.")
@click.option("--feature-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Windows per encoder batch.")
def segment(options, out: Path, epochs: int | None, lr: float | None, batch_size: int | None,
            milestones: tuple | None, val_fraction: float, window: int, stride: int, feature_batch_size: int) -> None:
    """Frozen-encoder window features + a linear classifier (background = its own class) -> per-frame
    labels of the test videos; ACC, MACC, FWIoU, mIoU (paper Table 6).

    --val-fraction holds out training VIDEOS. Writes OUT/metrics.json, OUT/summary.md and
    OUT/predictions.npz (per-frame predictions of every test video).
    """
    from actclr.eval.runs import segment_run

    recipe = build_recipe(LINEAR_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        metrics = segment_run(options, out, recipe=recipe, window=window, stride=stride, val_fraction=val_fraction,
                              feature_batch_size=feature_batch_size, progress=shown.progress)
    show(metrics, out)
