"""``actclr-data verify DIR``: check checksums, shards, HDF5, average motion and fingerprint."""
from __future__ import annotations

import click
from rich.console import Console
from rich.text import Text

from actclr.store import verify_dataset
from actclr.store.reader import open_dataset


@click.command("verify")
@click.argument("location")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where a remote dataset is downloaded (default $ACTCLR_CACHE or ~/.cache/actclr).")
def verify(location: str, cache_dir: str | None) -> None:
    """Check the prepared dataset at LOCATION (directory, file://, http(s)://, s3://... URL).

    Every file's sha256, every shard read strictly (member vocabulary, safe decoders) against its
    index, the manifest and the HDF5 files, the average motions (recomputed) and the fingerprint
    (recomputed). Exits with status 1 and lists the problems if anything is wrong. A remote
    dataset is downloaded again first (what the server serves now).
    """
    console = Console()
    with console.status(f"verifying {location} ..."):
        problems = verify_dataset(location, cache_dir)
    if problems:
        console.print(Text(f"{len(problems)} problem(s) in {location}:", style="bold red"))
        for problem in problems:
            console.print(Text(f"  {problem}"))
        raise SystemExit(1)
    info = open_dataset(location, cache_dir).info
    console.print(Text(f"OK: {location} ({info['name']}, {info['num_samples']} samples, {len(info['files'])} files "
                       f"checked, fingerprint {info['fingerprint'][:16]}...)", style="green"))
