"""``actclr-train finetune``: fine-tune the whole encoder with all or a fraction of the labels."""
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
from actclr.eval.recipes import FINETUNE_RECIPE


@click.command("finetune")
@encoder_options
@recipe_options(FINETUNE_RECIPE, val_fraction=0.1)
@click.option("--label-fraction", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Class-balanced share of the training labels (0.01 / 0.1: semi-supervised).")
def finetune(data: str, benchmark: str | None, checkpoint: str, out: Path, stream: str | None, device: str,
             seed: int, workers: int, model_config: str | None, bn_calibration: bool, epochs: int | None,
             lr: float | None, batch_size: int | None, milestones: tuple | None, val_fraction: float,
             label_fraction: float) -> None:
    """Train encoder + linear head end to end; select the epoch on held-out training samples; test once.

    Writes OUT/metrics.json, OUT/summary.md, OUT/logits.npy + keys.txt + labels.npy (test split).
    """
    from actclr.eval.finetune import finetune_evaluation
    from actclr.eval.report import Stopwatch

    clock = Stopwatch()
    recipe = build_recipe(FINETUNE_RECIPE, epochs, lr, batch_size, milestones)
    with progress_display() as shown:
        s = setup(data, benchmark, checkpoint, stream, device, seed, model_config, bn_calibration, shown.progress)
        evaluated = finetune_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                        recipe=recipe, label_fraction=label_fraction, val_fraction=val_fraction,
                                        seed=seed, workers=workers,
                                        on_epoch=epoch_progress(shown.progress, recipe.epochs),
                                        progress=shown.progress)
    results = evaluated.results
    knobs = {**recipe.to_dict(), "label_fraction": label_fraction, "val_fraction": val_fraction, "seed": seed,
             "checkpoint": checkpoint}
    name = "finetune" if label_fraction == 1.0 else f"semi {label_fraction:.0%}"
    metrics = run_metrics("finetune", title_of(f"fine-tuning ({name} labels)", s), s, knobs,
                          {f"{name} top-1": results["top1"]}, results,
                          evaluated.notes, clock.elapsed)
    finish(out, metrics, evaluated)
