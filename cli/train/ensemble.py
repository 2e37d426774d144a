"""``actclr-train ensemble``: weighted sum of per-stream test logits (3s-ActCLR)."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.lists import NumberList


@click.command("ensemble")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--weights", type=NumberList(float, "numbers"),
              help="One weight per RUN, comma-separated; default: by stream, joint 0.6, bone 0.6, motion 0.4 "
                   "(official).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
def ensemble(runs: tuple, weights: tuple | None, out: Path) -> None:
    """Ensemble linear/finetune RUNs of the same test split (e.g. joint, motion and bone streams)."""
    from actclr.eval.ensemble import EnsembleError, ensemble_run
    from actclr.eval.outputs import print_run

    try:
        metrics = ensemble_run(runs, out, weights)
    except EnsembleError as err:
        raise click.UsageError(str(err)) from None
    print_run(metrics, out)
