"""``actclr-data publish DIR URL``: verify a local dataset, then upload it to any store."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.text import Text

from actclr.cli.progress import TransferProgress, human_size
from actclr.store.transfer import JOBS


@click.command("publish")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("location")
@click.option("--jobs", type=click.IntRange(1, 64), default=JOBS, show_default=True, help="Parallel uploads.")
def publish(directory: str, location: str, jobs: int) -> None:
    """Verify the dataset in DIRECTORY, then upload it to LOCATION (a directory or a writable
    file://, memory://, s3://, gs://, hf://... URL).

    Nothing is uploaded if verify finds a problem. An existing dataset.json at LOCATION is
    removed first and the new one uploaded last, so readers never take a half-uploaded dataset
    for a complete one.
    """
    from actclr.store.transfer import publish as publish_dataset

    console = Console()
    start = time.perf_counter()
    with TransferProgress(console, "publish", "verifying, then publish") as bar:
        result = publish_dataset(directory, location, jobs, bar.advance, bar.file_done, bar.plan)
    seconds = time.perf_counter() - start
    console.print(Text(f"published {len(result.copied)} file(s), {human_size(result.bytes)} to {location} in "
                       f"{seconds:.1f} s (verify included)", style="green"))
