"""``actclr-data prepare DATASET --raw PATH ...``: raw skeletons -> a prepared dataset directory."""
from __future__ import annotations

import os
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.text import Text

from actclr.cli.progress import ConsoleProgress
from actclr.pipelines.describe import bad_lines
from actclr.pipelines.pkummd import CONVENTIONS
from actclr.pipelines.prepare import PrepareError, PrepareOptions, Reporter, prepare_dataset
from actclr.pipelines.sources import MAX_FILE_MB
from actclr.profiles import DEFAULT_PROFILE, get_profile, list_profiles, settable_params
from actclr.registry import dataset_names

from .info import counts_table

_PHASES = {"convert": "parse + normalize (chunks)", "shards": "write shards (samples)",
           "checksums": "checksums", "fingerprint": "fingerprint"}


class ConsoleReporter(ConsoleProgress, Reporter):
    """Messages and progress of :func:`prepare_dataset` on the console."""

    def __init__(self, console: Console):
        super().__init__(console, _PHASES)

    def info(self, message: str) -> None:
        self.console.print(Text(message))

    def warn(self, message: str) -> None:
        self.console.print(Text("warning: ", style="yellow") + Text(message))


def _params(values: tuple) -> dict:
    """``KEY=VALUE`` pairs (values read as YAML scalars: ``64`` -> int, ``none`` -> str)."""
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param")
        params[key] = yaml.safe_load(value)
    return params


@click.command("prepare")
@click.argument("dataset", type=click.Choice(dataset_names()))
@click.option("--raw", "raw", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="Raw input: a directory (searched recursively), a zip archive or a file. Repeatable.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory [default: data/DATASET].")
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, type=click.Choice(list_profiles()),
              help="Normalization profile.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Profile parameter, e.g. --param frames=64. Repeatable. Settable: "
                   + "; ".join(f"{name}: {', '.join(settable_params(name))}" for name in list_profiles()) + ".")
@click.option("--workers", type=click.IntRange(1), default=None, help="Worker processes [default: all cores].")
@click.option("--skip-bad", is_flag=True, help="Accept malformed raw files (listed in dataset.json) and exit 0.")
@click.option("--shard-seed", type=int, default=0, show_default=True, help="Seed of the shard shuffle.")
@click.option("--overwrite", is_flag=True, help="Replace a different dataset already in --out.")
@click.option("--pkummd-convention", type=click.Choice(CONVENTIONS), default="aimclr", show_default=True,
              help="PKU-MMD label frames: aimclr = 1-based inclusive (ActCLR), mamp = 0-based end-exclusive.")
@click.option("--max-file-mb", type=click.IntRange(1), default=MAX_FILE_MB, show_default=True,
              help="Largest raw file or zip member (uncompressed) accepted; larger ones are bad input, not read.")
def prepare(dataset: str, raw: tuple, out: Path | None, profile: str, params: tuple, workers: int | None,
            skip_bad: bool, shard_seed: int, overwrite: bool, pkummd_convention: str, max_file_mb: int) -> None:
    """Parse, normalize and store DATASET (ntu60, ntu120, pkummd1, pkummd2) from raw files.

    Writes manifest.parquet, skeletons.h5, shuffled WebDataset shards for every benchmark, the
    average motions (and videos.h5 for PKU-MMD), then dataset.json last. An interrupted run
    resumes from the chunks in OUT/.partial when run again with the same arguments. Malformed
    files are reported and listed in dataset.json; the exit status is 1 unless --skip-bad.
    """
    console = Console()
    profile_params = _params(params)
    try:
        get_profile(profile, **profile_params)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--param") from None
    options = PrepareOptions(dataset=dataset, raw=tuple(raw), out=out or Path("data") / dataset, profile=profile,
                             profile_params=profile_params, workers=workers or os.cpu_count() or 1,
                             shard_seed=shard_seed, overwrite=overwrite, pkummd_convention=pkummd_convention,
                             max_file_mb=max_file_mb)
    try:
        with ConsoleReporter(console) as reporter:
            result = prepare_dataset(options, reporter)
    except PrepareError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        console.print(Text(f"interrupted; run the same command again to resume from {options.out}/.partial",
                           style="yellow"))
        raise SystemExit(130) from None
    info = result.info
    console.print(counts_table(info))
    console.print(Text(f"{info['num_samples']} samples in {result.out} (fingerprint {info['fingerprint'][:16]}...)"))
    if info["bad"]:
        console.print(Text(f"{len(info['bad'])} malformed raw file(s), listed in dataset.json 'bad':",
                           style="bold red" if not skip_bad else "yellow"))
        for line in bad_lines(info["bad"]):
            console.print(Text(f"  {line}"))
        if not skip_bad:
            console.print(Text("the dataset was written without them; rerun with --skip-bad to accept this",
                               style="red"))
            raise SystemExit(1)
