"""Outputs of the evaluation commands and the table that gathers them.

Every evaluation command writes into its ``--out`` directory (each file atomically):

- ``metrics.json``: everything measured and every knob; common fields ``command``, ``title``,
  ``created``, ``wall_time_s``, ``encoder`` (where the weights come from), ``data`` (target
  dataset name, fingerprint, benchmark), ``stream``, ``knobs`` and ``headline`` (the few numbers
  a summary table shows, e.g. ``{"linear top-1": 81.2}``);
- ``summary.md``: a short Markdown summary;
- for classifiers, ``logits.npy (N_test, C)``, ``keys.txt`` and ``labels.npy`` of the test split
  (the inputs of ``actclr-train ensemble``).

:func:`gather` reads the ``metrics.json`` of evaluation runs and the ``metrics.jsonl`` of
pretraining runs and builds one table: a row per (encoder, dataset, benchmark, stream), a column
per headline number, plus the pretraining and evaluation wall times.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from actclr.engine.guard import findings
from actclr.engine.log import read_rows
from actclr.store.atomic import write_bytes, write_json, write_npy

METRICS = "metrics.json"
SUMMARY = "summary.md"
PRETRAIN_LOG = "metrics.jsonl"
ID_COLUMNS = ("encoder", "data", "stream")
WALL_TIME = "wall time (s)"


class Stopwatch:
    """Wall time since construction (``elapsed`` in seconds)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def data_record(dataset, benchmark: str | None) -> dict:
    """What ``metrics.json`` records about the target dataset."""
    info = dataset.info
    return {"location": dataset.location, "name": info.get("name"), "fingerprint": info.get("fingerprint"),
            "profile": info.get("profile"), "benchmark": benchmark, "num_classes": info.get("num_classes")}


def transfer_record(encoder: Mapping, data: Mapping) -> dict:
    """Source (pretraining) and target (evaluation) dataset fingerprints; ``transfer`` is true when
    the encoder was pretrained on another dataset than the one evaluated."""
    source = encoder.get("dataset_fingerprint")
    return {"source_fingerprint": source, "target_fingerprint": data.get("fingerprint"),
            "transfer": source is not None and source != data.get("fingerprint")}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def summary_markdown(metrics: Mapping) -> str:
    """Title, identity, the headline numbers as a table, notes and knobs."""
    encoder, data = metrics.get("encoder", {}), metrics.get("data", {})
    lines = [f"# {metrics['title']}", ""]
    lines.append(f"- encoder: {encoder.get('name')} ({encoder.get('source')})")
    if data:
        fingerprint = str(data.get("fingerprint"))[:12]
        lines.append(f"- data: {data.get('name')} / {data.get('benchmark')} (fingerprint {fingerprint})")
    if metrics.get("stream"):
        lines.append(f"- stream: {metrics['stream']}")
    lines.append(f"- wall time: {metrics.get('wall_time_s', 0.0):.1f} s")
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in metrics.get("headline", {}).items()]
    notes = metrics.get("notes", [])
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    knobs = metrics.get("knobs", {})
    if knobs:
        lines += ["", "Settings: " + ", ".join(f"`{k}={json.dumps(v)}`" for k, v in knobs.items())]
    return "\n".join(lines) + "\n"


def write_run(out: str | os.PathLike, metrics: dict, *, logits: np.ndarray | None = None,
              keys: Sequence[str] | None = None, labels: np.ndarray | None = None) -> Path:
    """Write ``metrics.json``, ``summary.md`` and the optional test logits/keys/labels; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if logits is not None:
        if keys is None or len(keys) != logits.shape[0]:
            raise ValueError(f"logits of {logits.shape[0]} samples need as many keys")
        write_npy(out / "logits.npy", np.asarray(logits, dtype=np.float32))
        write_bytes(out / "keys.txt", "".join(f"{k}\n" for k in keys).encode())
    if labels is not None:
        write_npy(out / "labels.npy", np.asarray(labels, dtype=np.int64))
    metrics = {"created": now(), **metrics}
    write_json(out / METRICS, metrics)
    write_bytes(out / SUMMARY, summary_markdown(metrics).encode())
    return out


def read_metrics(run: str | os.PathLike) -> dict:
    """``RUN/metrics.json`` (errors name the file)."""
    path = Path(run) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {METRICS} (not an evaluation run directory)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from None


def headline_table(metrics: Mapping, title: str | None = None) -> Table:
    """A rich table of one run's headline numbers."""
    table = Table(title=title or metrics.get("title"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.get("headline", {}).items():
        table.add_row(name, _fmt(value))
    return table


def print_run(metrics: Mapping, out: Path, console: Console | None = None) -> None:
    """Print a run's headline table and where its files are."""
    console = console or Console()
    console.print(headline_table(metrics))
    console.print(f"wrote {out / METRICS} ({metrics.get('wall_time_s', 0.0):.1f} s)")


# -- gathering ------------------------------------------------------------------------------


@dataclass
class Gathered:
    """One table: ``columns`` in order and ``rows`` as dicts (missing cells are absent)."""

    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)

    def add_column(self, name: str) -> None:
        if name not in self.columns:
            self.columns.append(name)


def is_pretrain_run(run: Path) -> bool:
    return (run / PRETRAIN_LOG).is_file() and not (run / METRICS).is_file()


def guard_notes(runs: Sequence[str | os.PathLike]) -> list[str]:
    """One line per collapsing phase of the pretraining runs among ``runs`` (the collapse guard's
    verdicts in their ``metrics.jsonl``), each naming the run."""
    return [f"{Path(run).resolve().name}: {note}" for run in runs if is_pretrain_run(Path(run))
            for note in findings(read_rows(Path(run) / PRETRAIN_LOG))]


def pretrain_time(run: Path) -> float:
    """Sum of the epoch times logged by a pretraining run (seconds)."""
    return float(sum(row.get("epoch_time_s", 0.0) for row in read_rows(run / PRETRAIN_LOG)))


def identity(metrics: Mapping) -> dict:
    """The ``encoder``, ``data`` (name/benchmark) and ``stream`` an evaluation run is about."""
    data = metrics.get("data") or {}
    where = "/".join(str(part) for part in (data.get("name"), data.get("benchmark")) if part)
    return {"encoder": (metrics.get("encoder") or {}).get("name"), "data": where or None,
            "stream": metrics.get("stream")}


def gather(runs: Sequence[str | os.PathLike]) -> Gathered:
    """One table over evaluation runs (``metrics.json``) and pretraining runs (``metrics.jsonl``).

    Evaluation runs of the same encoder, dataset, benchmark and stream share a row; their
    headline numbers fill the columns. ``wall time (s)`` adds up the row's evaluation times and,
    for an encoder pretrained by one of the given pretraining runs (matched by directory name),
    that run's summed epoch times. A headline number that a row already has starts a new row
    instead of overwriting it.
    """
    paths = [Path(run) for run in runs]
    pretrain = {run.resolve().name: pretrain_time(run) for run in paths if is_pretrain_run(run)}
    table = Gathered(columns=list(ID_COLUMNS))
    for run in paths:
        if is_pretrain_run(run):
            continue
        metrics = read_metrics(run)
        ident = identity(metrics)
        headline = metrics.get("headline", {})
        row = next((r for r in table.rows if all(r.get(k) == v for k, v in ident.items())
                    and not set(headline) & set(r)), None)
        if row is None:
            row = {**ident, WALL_TIME: pretrain.get(ident["encoder"], 0.0)}
            table.rows.append(row)
        for name, value in headline.items():
            table.add_column(name)
            row[name] = value
        row[WALL_TIME] += float(metrics.get("wall_time_s", 0.0))
    if table.rows:
        table.add_column(WALL_TIME)
    return table


def constant_columns(table: Gathered) -> dict:
    """Identity columns holding one value in every row (shown once, as a caption)."""
    if len(table.rows) < 2:
        return {}
    return {c: table.rows[0].get(c) for c in ID_COLUMNS
            if c != "encoder" and len({r.get(c) for r in table.rows}) == 1}


def _shown(table: Gathered) -> tuple[list, str]:
    shared = constant_columns(table)
    caption = ", ".join(f"{name}: {_fmt(value)}" for name, value in shared.items())
    return [c for c in table.columns if c not in shared], caption


def markdown_table(table: Gathered) -> str:
    """The gathered table as GitHub Markdown (identity columns equal in every row as a caption)."""
    columns, caption = _shown(table)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |" for row in table.rows]
    return "\n".join(lines + ([f"\n{caption}"] if caption else [])) + "\n"


def rich_table(table: Gathered, title: str | None = None, labels: Sequence[str] = ID_COLUMNS) -> Table:
    """The gathered table for the terminal (``labels``: the left-aligned text columns)."""
    columns, caption = _shown(table)
    out = Table(title=title, caption=caption or None)
    for name in columns:
        out.add_column(name, justify="left" if name in labels else "right")
    for row in table.rows:
        out.add_row(*(_fmt(row.get(c)) for c in columns))
    return out


def write_report(runs: Sequence[str | os.PathLike], table: Gathered, out: str | os.PathLike, title: str) -> list:
    """``out`` (Markdown: ``title``, the table, the collapse guard's notes, the pictures) and,
    beside it, ``training_curves.png`` (the pretraining runs among ``runs``: loss and kNN
    monitor) and ``comparison.png`` (the table's numbers per encoder); returns the pictures' paths."""
    from actclr.viz.curves import draw_comparison, draw_training_curves  # matplotlib only here

    out = Path(out)
    paths = [Path(run) for run in runs]
    notes = [f"- **collapse guard: {note}**" for note in guard_notes(paths)]
    lines = [f"# {title}", "", markdown_table(table), *notes, *([""] if notes else [])]
    pretrain = {run.resolve().name: read_rows(run / PRETRAIN_LOG) for run in paths if is_pretrain_run(run)}
    pictures = []
    if pretrain:
        pictures.append(draw_training_curves(pretrain, out.parent / "training_curves.png"))
    numbers = [c for c in table.columns if c not in (*ID_COLUMNS, WALL_TIME)]
    if table.rows and numbers:
        pictures.append(draw_comparison(table.rows, numbers, "encoder", out.parent / "comparison.png", title=title))
    lines += [f"![{p.stem}]({p.name})" for p in pictures]
    write_bytes(out, ("\n".join(lines) + "\n").encode())
    return pictures
