"""``actclr-train knn``: weighted kNN classification with a frozen encoder."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.lists import NumberList
from actclr.cli.train.evaluation import encoder_options, finish, progress_display, run_metrics, setup, title_of


@click.command("knn")
@encoder_options
@click.option("--k", "ks", default="10,20,40", show_default=True, type=NumberList(minimum=1, noun="k"),
              help="Neighbour counts.")
@click.option("--primary-k", type=click.IntRange(min=1), default=20, show_default=True,
              help="The k whose accuracy is the headline (and whose scores are saved).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Vote weight exp(similarity / temperature).")
@click.option("--feature", type=click.Choice(["backbone", "embed"]), default="backbone", show_default=True,
              help="backbone: 256-d pooled feature; embed: 128-d projector output (official monitor).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the feature extraction.")
def knn(data: str, benchmark: str | None, checkpoint: str, out: Path, stream: str | None, device: str, seed: int,
        workers: int, model_config: str | None, bn_calibration: bool, ks: tuple, primary_k: int,
        temperature: float, feature: str, batch_size: int) -> None:
    """kNN of the test split against the training split (cosine, weighted vote), un-augmented data.

    Writes OUT/metrics.json, OUT/summary.md and the primary k's vote scores (logits.npy + keys.txt).
    """
    from actclr.eval.knn import knn_evaluation
    from actclr.eval.report import Stopwatch

    if primary_k not in ks:
        raise click.UsageError(f"--primary-k {primary_k} is not among --k {','.join(map(str, ks))}")
    clock = Stopwatch()
    with progress_display() as shown:
        s = setup(data, benchmark, checkpoint, stream, device, seed, model_config, bn_calibration, shown.progress)
        evaluated = knn_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device, ks=ks,
                                   t=temperature, primary_k=primary_k, feature=feature, batch_size=batch_size,
                                   workers=workers, progress=shown.progress)
    results = evaluated.results
    knobs = {"k": list(ks), "primary_k": primary_k, "temperature": temperature, "feature": feature,
             "seed": seed, "checkpoint": checkpoint}
    headline = {"kNN top-1": results["top1"]}
    metrics = run_metrics("knn", title_of(f"kNN (k={primary_k})", s), s, knobs, headline, results,
                          evaluated.notes, clock.elapsed)
    finish(out, metrics, evaluated)
