"""``actclr-data pull URL DIR``: mirror a shared dataset into a local directory."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.text import Text

from actclr.cli.progress import TransferProgress, human_size
from actclr.store.manifest import SPLITS
from actclr.store.transfer import JOBS


@click.command("pull")
@click.argument("location")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--benchmark", default=None, help="Only this benchmark's shards (and the manifest, average motion).")
@click.option("--split", type=click.Choice(SPLITS), default=None, help="Only this split's shards.")
@click.option("--jobs", type=click.IntRange(1, 64), default=JOBS, show_default=True, help="Parallel downloads.")
def pull(location: str, directory: str, benchmark: str | None, split: str | None, jobs: int) -> None:
    """Download the dataset at LOCATION (file://, http(s)://, s3://, gs://, hf://... URL) into DIRECTORY.

    Every file is hashed as it arrives and kept only if its sha256 matches LOCATION's
    dataset.json; files already in DIRECTORY with the right sha256 are kept, so an interrupted
    pull resumes when run again. dataset.json is written last: until then DIRECTORY does not
    look like a dataset. With --benchmark/--split only those shards come (train or evaluate on
    them; `verify` then reports the other files as missing).
    """
    from actclr.store.transfer import pull as pull_dataset

    console = Console()
    start = time.perf_counter()
    with TransferProgress(console, "pull") as bar:
        result = pull_dataset(location, directory, benchmark, split, jobs, bar.advance, bar.file_done, bar.plan)
    seconds = time.perf_counter() - start
    console.print(Text(f"pulled {len(result.copied)} file(s), {human_size(result.bytes)} in {seconds:.1f} s "
                       f"({result.bytes / 2**20 / max(seconds, 1e-9):.1f} MiB/s); {len(result.kept)} already "
                       f"present and kept; {directory} is complete", style="green"))
