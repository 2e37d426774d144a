"""``actclr-train linear``: linear evaluation of a frozen encoder (official protocol by default)."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import (
    build_recipe,
    encoder_options,
    progress_display,
    recipe_options,
    region_option,
    show,
)
from actclr.constants import FEATURES
from actclr.eval.recipes import LINEAR_RECIPE


@click.command("linear")
@encoder_options
@recipe_options(LINEAR_RECIPE, val_fraction=0.1)
@click.option("--feature", type=click.Choice(FEATURES), default="backbone", show_default=True,
              help="backbone: 256-d pooled ST-GCN feature (official); embed: 128-d projector output.")
@click.option("--feature-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the (one-off) feature extraction.")
@region_option
def linear(options, out: Path, epochs: int | None, lr: float | None, batch_size: int | None,
           milestones: tuple | None, val_fraction: float, feature: str, feature_batch_size: int, region: str) -> None:
    """Train a linear classifier on frozen features; evaluate the test split once.

    Writes OUT/metrics.json, OUT/summary.md, OUT/logits.npy + keys.txt + labels.npy (test split).
    """
    from actclr.eval.runs import linear_run

    recipe = build_recipe(LINEAR_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        metrics = linear_run(options, out, recipe=recipe, feature=feature, val_fraction=val_fraction,
                             feature_batch_size=feature_batch_size, region=region, progress=shown.progress)
    show(metrics, out)
