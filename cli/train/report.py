"""``actclr-train report``: one table over evaluation and pretraining runs, plus pictures."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Markdown file for the table; the pictures are written beside it.")
@click.option("--title", default="actclr results", show_default=True)
def report(runs: tuple, out: Path | None, title: str) -> None:
    """Gather RUN directories: evaluation runs (metrics.json: a row per encoder, dataset and stream)
    and pretraining runs (metrics.jsonl: pretraining time, training curves).

    A pretraining run whose collapse guard found a phase collapsing is named under the table, with
    the epoch and the signals.

    With --out: FILE.md, training_curves.png (pretraining loss and kNN monitor) and comparison.png
    (the table's numbers per encoder) in FILE's directory. The wall time of a row is its
    evaluations' plus, when its pretraining run is among RUNs, the pretraining epochs'.
    """
    from rich.console import Console

    from actclr.eval.outputs import gather, guard_notes, rich_table, write_report

    try:
        table = gather(runs)
    except (FileNotFoundError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    console = Console()
    console.print(rich_table(table, title=title))
    for note in guard_notes(runs):
        console.print(f"[red]collapse guard: {note}", highlight=False)
    if out is not None:
        pictures = write_report(runs, table, out, title)
        console.print(f"wrote {out}" + "".join(f", {p}" for p in pictures))
