"""``actclr-train linear``: linear evaluation of a frozen encoder (official protocol by default)."""
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


@click.command("linear")
@encoder_options
@recipe_options(LINEAR_RECIPE, val_fraction=0.1)
@click.option("--feature", type=click.Choice(["backbone", "embed"]), default="backbone", show_default=True,
              help="backbone: 256-d pooled ST-GCN feature (official); embed: 128-d projector output.")
@click.option("--feature-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the (one-off) feature extraction.")
def linear(data: str, benchmark: str | None, checkpoint: str, out: Path, stream: str | None, device: str, seed: int,
           workers: int, model_config: str | None, bn_calibration: bool, epochs: int | None, lr: float | None,
           batch_size: int | None, milestones: tuple | None, val_fraction: float, feature: str,
           feature_batch_size: int) -> None:
    """Train a linear classifier on frozen features; evaluate the test split once.

    Writes OUT/metrics.json, OUT/summary.md, OUT/logits.npy + keys.txt + labels.npy (test split).
    """
    from actclr.eval.linear import linear_evaluation
    from actclr.eval.report import Stopwatch

    clock = Stopwatch()
    recipe = build_recipe(LINEAR_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        s = setup(data, benchmark, checkpoint, stream, device, seed, model_config, bn_calibration, shown.progress)
        evaluated = linear_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                      recipe=recipe, feature=feature, val_fraction=val_fraction, seed=seed,
                                      feature_batch_size=feature_batch_size, workers=workers,
                                      on_epoch=epoch_progress(shown.progress, recipe.epochs),
                                      progress=shown.progress)
    knobs = {**recipe.to_dict(), "val_fraction": val_fraction, "seed": seed, "feature": feature,
             "checkpoint": checkpoint}
    results = evaluated.results
    metrics = run_metrics("linear", title_of("linear evaluation", s), s, knobs,
                          {"linear top-1": results["top1"]}, results,
                          evaluated.notes, clock.elapsed)
    finish(out, metrics, evaluated)
