"""Options shared by the evaluation commands (linear, knn, finetune, segment, actionlet).

A command is its own options plus one call of :mod:`actclr.eval.runs`; :func:`encoder_options`
adds the shared options and hands them to the command as one
:class:`actclr.eval.session.SessionOptions`, and turns the errors of opening a session (a
checkpoint or option that does not fit) into usage errors.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from actclr.cli.lists import NumberList
from actclr.cli.progress import ConsoleProgress
from actclr.constants import DEVICES, REGIONS, STREAMS


def _shared_options() -> list:
    """``--out`` and the options that become :class:`actclr.eval.session.SessionOptions` (one per field)."""
    return [
        click.option("--data", required=True,
                     help="Prepared dataset: directory or URL (file://, http(s)://, s3://, gs://, hf://...)."),
        click.option("--benchmark", help="Benchmark (xsub, xview, xset); default: the checkpoint's, if the "
                                         "dataset has it."),
        click.option("--checkpoint", required=True,
                     help="RUN/encoder.pt, RUN/checkpoints/last.pt (or epoch_XXXX.pt), or 'random' "
                          "(the same architecture untrained, seeded with --seed: the baseline)."),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Output directory (metrics.json, summary.md, ...)."),
        click.option("--stream", type=click.Choice(STREAMS),
                     help="Input stream; default: the checkpoint's (joint for random)."),
        click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the validation split, the head initialisation, the batch order and 'random'."),
        click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
                     help="DataLoader workers."),
        click.option("--model-config",
                     help="With --checkpoint random: the model section of this recipe (name or YAML path) "
                          "instead of the model defaults."),
        click.option("--bn-calibration/--no-bn-calibration", default=True, show_default=True,
                     help="With --checkpoint random: estimate the BatchNorm statistics on the training split "
                          "(no weight is trained; without it the untrained features are ~1e-6)."),
    ]


#: ``--region`` of linear and kNN (paper Fig. 3).
region_option = click.option(
    "--region", type=click.Choice(REGIONS), default="whole", show_default=True,
    help="Pool the feature map over the whole skeleton, or only over the actionlet / non-actionlet "
         "cells (paper Fig. 3; masks against the training split's average motion, paper defaults).")


def encoder_options(command: Callable) -> Callable:
    """``--data --benchmark --checkpoint --out --stream --device --seed --workers --model-config
    --bn-calibration``; the command receives ``options`` (a ``SessionOptions``) and ``out``."""
    shared = _shared_options()

    @functools.wraps(command)
    def run(**kwargs):
        from actclr.engine.checkpoint import CheckpointError
        from actclr.engine.config import ConfigError
        from actclr.eval.session import SessionError, SessionOptions

        options = SessionOptions(**{name: kwargs.pop(name) for name in names})
        try:
            return command(options=options, **kwargs)
        except (SessionError, CheckpointError, ConfigError) as err:
            raise click.UsageError(str(err)) from None

    before = len(getattr(run, "__click_params__", []))
    decorated: Any = functools.reduce(lambda f, option: option(f), reversed(shared), run)
    names = [param.name for param in decorated.__click_params__[before:] if param.name != "out"]
    return decorated


def progress_display() -> ConsoleProgress:
    """Progress of the feature extraction and classifier epochs, on stderr (stdout keeps the results)."""
    from rich.console import Console

    return ConsoleProgress(Console(stderr=True))


def recipe_options(defaults, val_fraction: float) -> Callable:
    """``--epochs --lr --batch-size --milestones --val-fraction`` with the protocol's defaults shown."""
    options = [
        click.option("--epochs", type=click.IntRange(min=1), help=f"Epochs [default: {defaults.epochs}]; the lr "
                     "milestones scale with it unless --milestones is given."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True),
                     help=f"Learning rate [default: {defaults.lr:g}]."),
        click.option("--batch-size", type=click.IntRange(min=1), help=f"Batch size [default: {defaults.batch_size}]."),
        click.option("--milestones", type=NumberList(int, "epochs", skip_blanks=True),
                     help=f"Epochs after which lr is x{defaults.gamma:g}, comma-separated "
                          f"[default: {','.join(map(str, defaults.milestones))}]."),
        click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=val_fraction,
                     show_default=True, help="Share of the TRAINING split held out (per class, by key) to select "
                                             "the epoch; 0 keeps the last epoch."),
    ]
    return lambda command: functools.reduce(lambda f, option: option(f), reversed(options), command)


def build_recipe(defaults, epochs: int | None, lr: float | None, batch_size: int | None,
                 milestones: tuple | None):
    """The protocol's recipe with the command-line changes."""
    try:
        return defaults.with_changes(epochs=epochs, lr=lr, batch_size=batch_size, milestones=milestones)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def show(metrics: dict, out: Path) -> None:
    """Print a finished run's headline table and where its files are."""
    from actclr.eval.outputs import print_run

    print_run(metrics, out)
