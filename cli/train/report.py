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

    With --out: FILE.md, training_curves.png (pretraining loss and kNN monitor) and comparison.png
    (the table's numbers per encoder) in FILE's directory. The wall time of a row is its
    evaluations' plus, when its pretraining run is among RUNs, the pretraining epochs'.
    """
    from rich.console import Console

    from actclr.engine.metrics import read_rows
    from actclr.eval.report import ID_COLUMNS, WALL_TIME, gather, is_pretrain_run, markdown_table, rich_table
    from actclr.store.atomic import write_bytes
    from actclr.viz.curves import draw_comparison, draw_training_curves

    try:
        table = gather(runs)
    except (FileNotFoundError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    console = Console()
    console.print(rich_table(table, title=title))
    if out is None:
        return
    lines = [f"# {title}", "", markdown_table(table)]
    pretrain = {run.resolve().name: read_rows(run / "metrics.jsonl") for run in runs if is_pretrain_run(run)}
    pictures = []
    if pretrain:
        pictures.append(draw_training_curves(pretrain, out.parent / "training_curves.png"))
    numbers = [c for c in table.columns if c not in (*ID_COLUMNS, WALL_TIME)]
    if table.rows and numbers:
        pictures.append(draw_comparison(table.rows, numbers, "encoder", out.parent / "comparison.png", title=title))
    lines += [f"![{p.stem}]({p.name})" for p in pictures]
    write_bytes(out, ("\n".join(lines) + "\n").encode())
    console.print(f"wrote {out}" + "".join(f", {p}" for p in pictures))
