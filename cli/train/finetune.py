"""``actclr-train finetune``: fine-tune the whole encoder with all or a fraction of the labels."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import build_recipe, encoder_options, progress_display, recipe_options, show
from actclr.eval.recipes import FINETUNE_RECIPE


@click.command("finetune")
@encoder_options
@recipe_options(FINETUNE_RECIPE, val_fraction=0.1)
@click.option("--label-fraction", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Class-balanced share of the training labels (0.01 / 0.1: semi-supervised).")
def finetune(options, out: Path, epochs: int | None, lr: float | None, batch_size: int | None,
             milestones: tuple | None, val_fraction: float, label_fraction: float) -> None:
    """Train encoder + linear head end to end; select the epoch on held-out training samples; test once.

    Writes OUT/metrics.json, OUT/summary.md, OUT/logits.npy + keys.txt + labels.npy (test split).
    """
    from actclr.eval.runs import finetune_run

    recipe = build_recipe(FINETUNE_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        metrics = finetune_run(options, out, recipe=recipe, label_fraction=label_fraction,
                               val_fraction=val_fraction, progress=shown.progress)
    show(metrics, out)
