"""``actclr-train knn``: weighted kNN classification with a frozen encoder."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.lists import NumberList
from actclr.cli.train.evaluation import encoder_options, progress_display, region_option, show
from actclr.constants import FEATURES


@click.command("knn")
@encoder_options
@click.option("--k", "ks", default="10,20,40", show_default=True, type=NumberList(minimum=1, noun="k"),
              help="Neighbour counts.")
@click.option("--primary-k", type=click.IntRange(min=1), default=20, show_default=True,
              help="The k whose accuracy is the headline (and whose scores are saved).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Vote weight exp(similarity / temperature).")
@click.option("--feature", type=click.Choice(FEATURES), default="backbone", show_default=True,
              help="backbone: 256-d pooled feature; embed: 128-d projector output (official monitor).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the feature extraction.")
@region_option
def knn(options, out: Path, ks: tuple, primary_k: int, temperature: float, feature: str, batch_size: int,
        region: str) -> None:
    """kNN of the test split against the training split (cosine, weighted vote), un-augmented data.

    Writes OUT/metrics.json, OUT/summary.md and the primary k's vote scores (logits.npy + keys.txt).
    """
    from actclr.eval.runs import knn_run

    with progress_display() as shown:
        metrics = knn_run(options, out, ks=ks, primary_k=primary_k, temperature=temperature, feature=feature,
                          batch_size=batch_size, region=region, progress=shown.progress)
    show(metrics, out)
