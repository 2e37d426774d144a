"""Options and plumbing shared by the evaluation commands (linear, knn, finetune, segment, actionlet)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from actclr.cli.lists import NumberList
from actclr.cli.progress import ConsoleProgress

STREAM_CHOICE = click.Choice(["joint", "motion", "bone"])


def encoder_options(command: Callable) -> Callable:
    """``--data --benchmark --checkpoint --out --stream --device --seed --workers --model-config
    --bn-calibration``."""
    options = [
        click.option("--data", required=True,
                     help="Prepared dataset: directory or URL (file://, http(s)://, s3://, gs://, hf://...)."),
        click.option("--benchmark", help="Benchmark (xsub, xview, xset); default: the checkpoint's, if the "
                                         "dataset has it."),
        click.option("--checkpoint", required=True,
                     help="RUN/encoder.pt, RUN/checkpoints/last.pt (or epoch_XXXX.pt), or 'random' "
                          "(the same architecture untrained, seeded with --seed: the baseline)."),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Output directory (metrics.json, summary.md, ...)."),
        click.option("--stream", type=STREAM_CHOICE,
                     help="Input stream; default: the checkpoint's (joint for random)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
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
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


@dataclass
class Setup:
    """What every evaluation command starts from."""

    dataset: Any
    benchmark: str
    encoder: Any
    encoder_info: dict
    stream: str
    device: Any


def _model_config(recipe: str | None) -> dict | None:
    if recipe is None:
        return None
    from actclr.engine.config import ConfigError, load_recipe

    try:
        return load_recipe(recipe)["model"]
    except ConfigError as err:
        raise click.UsageError(str(err)) from None


def progress_display() -> ConsoleProgress:
    """Progress of the feature extraction and classifier epochs, on stderr (stdout keeps the results)."""
    from rich.console import Console

    return ConsoleProgress(Console(stderr=True))


def setup(data: str, benchmark: str | None, checkpoint: str, stream: str | None, device: str, seed: int,
          model_config: str | None, bn_calibration: bool = True, progress: Callable | None = None) -> Setup:
    """Open the dataset, pick the benchmark, check that its training and test splits hold samples,
    load the encoder (a random one with BatchNorm statistics estimated on the training split, unless
    ``bn_calibration`` is off; ``progress`` sees that pass) and choose the stream."""
    from actclr.engine.checkpoint import CheckpointError
    from actclr.engine.dist import select_device
    from actclr.eval.encoders import RANDOM, load_encoder
    from actclr.eval.features import calibrate_batchnorm, h5_batches
    from actclr.eval.holdout import require_split
    from actclr.store import open_dataset

    if model_config is not None and checkpoint != RANDOM:
        raise click.UsageError("--model-config only applies to --checkpoint random")
    dataset = open_dataset(data)
    dev = select_device(device)
    try:
        encoder, info = load_encoder(checkpoint, dev, seed=seed, model_cfg=_model_config(model_config))
    except CheckpointError as err:
        raise click.UsageError(str(err)) from None
    available = dataset.benchmarks
    benchmark = benchmark or (info.get("benchmark") if info.get("benchmark") in available else None)
    if benchmark is None:
        raise click.UsageError(f"pass --benchmark (the dataset has {', '.join(available)})")
    if benchmark not in available:
        raise click.UsageError(f"{data}: no benchmark {benchmark!r} (has {', '.join(available)})")
    rows = require_split(dataset, benchmark, "train")
    require_split(dataset, benchmark, "test")
    stream = stream or info.get("stream") or "joint"
    if checkpoint == RANDOM and bn_calibration:
        batches = h5_batches(dataset.h5_path, rows, dev, progress=progress, phase="BatchNorm statistics: train")
        calibrate_batchnorm(encoder, batches, stream, dev)
        info["bn_statistics"] = f"estimated on the {benchmark} training split ({rows.size} samples, {stream})"
        info["name"] += " + BN stats"
    return Setup(dataset, benchmark, encoder, info, stream, dev)


def run_metrics(command: str, title: str, s: Setup, knobs: dict, headline: dict, results: dict, notes: list,
                wall_time: float) -> dict:
    """The ``metrics.json`` content of an evaluation run."""
    from actclr.eval.report import data_record, transfer_record

    data = data_record(s.dataset, s.benchmark)
    encoder = dict(s.encoder_info)
    if s.encoder_info.get("stream") not in (None, s.stream):
        notes = notes + [f"the encoder was trained on the {s.encoder_info['stream']} stream, evaluated on {s.stream}"]
    return {"command": command, "title": title, "wall_time_s": wall_time, "encoder": encoder, "data": data,
            **transfer_record(encoder, data), "stream": s.stream, "knobs": knobs, "headline": headline,
            "notes": notes, **results}


def title_of(command: str, s: Setup) -> str:
    return f"{command}: {s.encoder_info['name']} on {s.dataset.info.get('name')}/{s.benchmark} ({s.stream})"


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
    from dataclasses import replace

    recipe = defaults.with_epochs(epochs) if epochs is not None else defaults
    changes = {k: v for k, v in {"lr": lr, "batch_size": batch_size, "milestones": milestones}.items() if v is not None}
    try:
        return replace(recipe, **changes)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def epoch_progress(progress: Callable, epochs: int) -> Callable[[dict], None]:
    """An ``on_epoch`` callback that reports the classifier's epochs to ``progress``."""
    return lambda row: progress("classifier epochs", row["epoch"], epochs)


def finish(out: Path, metrics: dict, evaluated=None) -> None:
    """Write the run's files and print its headline table."""
    from actclr.eval.report import print_run, write_run

    if evaluated is None:
        write_run(out, metrics)
    else:
        write_run(out, metrics, logits=evaluated.logits, keys=evaluated.keys, labels=evaluated.labels)
    print_run(metrics, out)
