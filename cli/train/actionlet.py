"""``actclr-train actionlet``: actionlet masks of a trained encoder, pictures and a ground-truth score."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import encoder_options, show
from actclr.constants import ACTIVATIONS, SMOOTHING


@click.command("actionlet")
@encoder_options
@click.option("--keys", multiple=True, help="Samples to extract and draw (repeatable); default: the test split.")
@click.option("--pictures", type=click.IntRange(min=0), default=4, show_default=True,
              help="Without --keys: draw the first test sample of this many classes.")
@click.option("--ground-truth", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ground_truth.json of synthetic raw data (actclr-data synth): score the masks.")
@click.option("--smoothing", type=click.Choice(SMOOTHING), default="graph", show_default=True,
              help="graph: skeleton adjacency (paper Eq. 5); parts: body-part mean (official code).")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default="threshold", show_default=True,
              help="threshold: binary mask at --threshold of the maximum (paper); gain_clip: official soft mask.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
def actionlet(options, out: Path, keys: tuple, pictures: int, ground_truth: Path | None, smoothing: str,
              activation: str, threshold: float, batch_size: int) -> None:
    """Extract actionlets (difference against the average motion, paper Eq. 2-5) of test samples.

    Writes OUT/actionlets.h5 (masks (N, T, V, M), joint_masks (N, T, V), labels, keys),
    OUT/average_motion.png (paper Fig. 4), OUT/actionlet_<key>.png (Fig. 5) and OUT/metrics.json
    (with --ground-truth: share of mask mass on truly moving joints vs chance).
    """
    from actclr.eval.actionlets import MaskOptions
    from actclr.eval.runs import actionlet_run

    masks = MaskOptions(smoothing=smoothing, activation=activation, threshold=threshold)
    show(actionlet_run(options, out, keys=keys, pictures=pictures, ground_truth=ground_truth, masks=masks,
                       batch_size=batch_size), out)
