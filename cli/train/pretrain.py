"""``actclr-train pretrain``: self-supervised pretraining of a skeleton encoder (ActCLR, MoCo v2).

Works unchanged as one process or under ``torchrun`` (``torchrun --nproc_per_node 4 -m
actclr.cli.train pretrain ...``): every process runs this command with the same arguments.
"""
from __future__ import annotations

from pathlib import Path

import click

from actclr.constants import DEVICES, STREAMS
from actclr.engine.config import ConfigError, build_config


@click.command("pretrain")
@click.option("--data", required=True, help="Prepared dataset: directory or URL (file://, http(s)://, s3://, gs://, hf://...).")
@click.option("--benchmark", help="Benchmark of the dataset (xsub, xview, xset); default: the recipe's.")
@click.option("--stream", type=click.Choice(STREAMS),
              help="Input stream; default: the recipe's.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (config, logs, checkpoints, encoder.pt).")
@click.option("--config", "recipe", help="Recipe: a YAML path or the name of a shipped recipe in "
              "configs/, e.g. actclr_ntu60-xview_joint_1xb128_350e (see docs/training.md).")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs of the main phase (train.epochs).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch per device (data.batch_size).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Base learning rate (optim.lr).")
@click.option("--device", type=click.Choice(DEVICES), help="train.device (default auto).")
@click.option("--seed", type=int, help="Base seed; rank r seeds its augmentation with seed + r.")
@click.option("--resume", is_flag=True,
              help="Continue from OUT/checkpoints/last.pt if it exists (else start a new run).")
@click.option("--force", is_flag=True,
              help="With --resume: continue even if --data is another dataset (its fingerprint differs "
                   "from the checkpoint's).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from a checkpoint: a warm-up run's last.pt or an encoder.pt.")
@click.option("--stop-after", type=click.IntRange(min=1), metavar="EPOCH",
              help="Train through global epoch EPOCH (e.g. the warm-up's last), keep its checkpoint as "
                   "last.pt and stop without encoder.pt; --resume continues.")
@click.option("--workers", type=click.IntRange(min=0), help="DataLoader workers per process.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set optim.weight_decay=5e-4 (repeatable).")
@click.option("--no-verify", is_flag=True,
              help="Do not check each streamed shard against its sha256 in dataset.json (on by default).")
def pretrain(data: str, benchmark: str | None, stream: str | None, out: Path, recipe: str | None,
             epochs: int | None, batch_size: int | None, lr: float | None, device: str | None,
             seed: int | None, resume: bool, force: bool, init: Path | None, stop_after: int | None,
             workers: int | None,
             overrides: tuple, no_verify: bool) -> None:
    """Pretrain an encoder on the training split of a prepared dataset.

    Writes OUT/config.yaml (effective config), OUT/env.json, OUT/metrics.csv and .jsonl,
    OUT/checkpoints/last.pt (+ epoch_XXXX.pt) and, at the end, OUT/encoder.pt.
    """
    saved = out / "config.yaml"
    if recipe is None and resume and saved.is_file():
        recipe = str(saved)  # continue with the run's own configuration
    options = {"data.benchmark": benchmark, "data.stream": stream, "train.epochs": epochs,
               "data.batch_size": batch_size, "optim.lr": lr, "train.device": device,
               "train.seed": seed, "data.workers": workers}
    try:
        cfg = build_config(recipe, options, overrides)
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    if init is not None and resume and (out / "checkpoints" / "last.pt").is_file():
        raise click.UsageError("--init and --resume exclude each other once OUT has a checkpoint")

    from actclr.engine.trainer import run_pretraining  # torch is imported only when training
    from actclr.eval.monitor import KNNMonitor

    run_pretraining(cfg, data=data, run_dir=out, resume=resume, init=init, force=force,  # errors: one line
                    verify=not no_verify, monitor=KNNMonitor.from_config, stop_after=stop_after)
