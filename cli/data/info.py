"""``actclr-data info DIR``: what a prepared dataset holds, as rich tables."""
from __future__ import annotations

import statistics
from collections import defaultdict

import click
from rich.console import Console
from rich.table import Table

from actclr.cli.progress import human_size
from actclr.pipelines.describe import bad_lines, missing_line, skipped_summary
from actclr.registry import get_dataset
from actclr.store import PreparedDataset, open_dataset
from actclr.store.manifest import SPLITS

_MAX_LISTED = 10


def overview_table(ds: PreparedDataset) -> Table:
    """Name, location, profile, sizes of the whole, fingerprint."""
    info = ds.info
    table = Table(title=f"{info['title']} ({info['name']})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    params = ", ".join(f"{k}={v}" for k, v in sorted(info["profile"]["params"].items()))
    for field, value in (("location", ds.location), ("samples", str(info["num_samples"])),
                         ("classes", str(info["num_classes"])),
                         ("profile", f"{info['profile']['name']} ({params})"),
                         ("format", f"version {info['format_version']}, actclr {info['toolkit_version']}"),
                         ("created", info.get("created", "?")), ("shard seed", str(info["shard_seed"])),
                         ("fingerprint", info["fingerprint"])):
        table.add_row(field, value)
    return table


def counts_table(info: dict) -> Table:
    """Samples per benchmark and split, with the rule's provenance."""
    table = Table(title="Samples per benchmark", title_justify="left")
    table.add_column("benchmark")
    for split in SPLITS:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    table.add_column("split rule")
    for benchmark, counts in info["counts"].items():
        rule = info.get("benchmarks", {}).get(benchmark, {})
        table.add_row(benchmark, *(str(counts[s]) for s in SPLITS), str(sum(counts.values())),
                      f"{rule.get('field', '?')}: {rule.get('certainty', '?').split(' (')[0]}")
    return table


def class_ids(info: dict) -> list:
    """The dataset's own id of every class (NTU ``A001`` ...; see ``datasets.yaml`` ``id_format``)."""
    try:
        spec = get_dataset(info["name"])
    except KeyError:  # a dataset this version does not know: its 1-based class numbers
        return [str(c + 1) for c in range(len(info["class_names"]))]
    return [spec.class_id(c) for c in range(len(info["class_names"]))]


def per_class_table(info: dict, full: bool = False) -> Table:
    """Per-class counts: a one-line summary per split, or (``full``) one row per class."""
    ids = class_ids(info)
    if full:
        table = Table(title="Samples per class", title_justify="left")
        table.add_column("action", justify="right")
        table.add_column("name")
        columns = [(b, s) for b in info["per_class"] for s in SPLITS]
        for b, s in columns:
            table.add_column(f"{b}/{s}", justify="right")
        for c, name in enumerate(info["class_names"]):
            table.add_row(ids[c], name, *(str(info["per_class"][b][s][c]) for b, s in columns))
        return table
    table = Table(title="Samples per class (summary; --per-class for all)", title_justify="left")
    for column in ("split", "min", "median", "max", "actions with none"):
        table.add_column(column, justify="left" if column in ("split", "actions with none") else "right")
    for b, splits in info["per_class"].items():
        for s in SPLITS:
            counts = splits[s]
            empty = [ids[c] for c, n in enumerate(counts) if n == 0]
            listed = ", ".join(empty[:_MAX_LISTED]) + (f" ... ({len(empty)})" if len(empty) > _MAX_LISTED else "")
            table.add_row(f"{b}/{s}", str(min(counts)), f"{statistics.median(counts):g}", str(max(counts)),
                          listed or "-")
    return table


def sizes_table(ds: PreparedDataset) -> Table:
    """Bytes on disk per part of the dataset (``shards/<benchmark>`` grouped)."""
    groups: dict = defaultdict(lambda: [0, 0])
    for relative in ds.info["files"]:
        parts = relative.split("/")
        group = "/".join(parts[:2]) + "/" if parts[0] == "shards" else (parts[0] + "/" if len(parts) > 1 else relative)
        groups[group][0] += ds.file_size(relative)
        groups[group][1] += 1
    table = Table(title="Files", title_justify="left")
    table.add_column("part")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    for group, (size, count) in sorted(groups.items()):
        table.add_row(group, str(count), human_size(size))
    table.add_row("total", str(sum(c for _, c in groups.values())), human_size(sum(s for s, _ in groups.values())),
                  style="bold")
    return table


def issues_lines(info: dict) -> list:
    """Skipped / bad / missing summary lines (plain text)."""
    lines = []
    if info["skipped"]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in skipped_summary(info["skipped"]).items())
        lines.append(f"skipped {len(info['skipped'])} raw files or clips: {kinds}")
    if info["bad"]:
        lines.append(f"{len(info['bad'])} bad (malformed) raw files:")
        lines += ["  " + line for line in bad_lines(info["bad"])[:_MAX_LISTED]]
        if len(info["bad"]) > _MAX_LISTED:
            lines.append(f"  ... and {len(info['bad']) - _MAX_LISTED} more (see dataset.json)")
    partial = missing_line(info.get("missing", {}))
    if partial is not None:
        lines.append(partial)
    return lines or ["no skipped, bad or missing raw files"]


@click.command("info")
@click.argument("location")
@click.option("--per-class", is_flag=True, help="Show the sample count of every class.")
def info(location: str, per_class: bool) -> None:
    """Describe the prepared dataset at LOCATION (a directory, file://, http(s)://, s3://... URL)."""
    try:
        ds = open_dataset(location)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot open {location}: {error}") from None
    console = Console()
    console.print(overview_table(ds))
    console.print(counts_table(ds.info))
    console.print(per_class_table(ds.info, full=per_class))
    console.print(sizes_table(ds))
    for line in issues_lines(ds.info):
        console.print(line, markup=False, highlight=False)
