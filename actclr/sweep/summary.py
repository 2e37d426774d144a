"""The sweep's summary: per arm and metric the mean, the sample std and every seed's value.

Values are the ``headline`` numbers of the evaluations' ``metrics.json`` (read with
:func:`actclr.eval.outputs.read_metrics`); only evaluations that are done under the sweep's current
settings count. A metric is named by its headline (``linear top-1``) or, for an evaluation whose
name is not its command, ``<name>: <headline>``. ``std`` is the sample standard deviation (n - 1
in the denominator), ``None`` below two values.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from actclr.engine.log import read_rows
from actclr.eval.outputs import Gathered, identity, markdown_table, now, read_metrics
from actclr.store.atomic import write_bytes, write_json
from actclr.sweep.plan import PRETRAIN
from actclr.sweep.run import pending_steps, read_record

SUMMARY_MD, SUMMARY_JSON, SEEDS_PNG, CURVES_PNG = "sweep.md", "sweep.json", "sweep.png", "training_curves.png"
STD_NOTE = "std: sample standard deviation (n - 1 in the denominator), - below 2 seeds; n: seeds with a result."


def metric_name(evaluation: str, command: str, headline: str) -> str:
    return headline if evaluation == command else f"{evaluation}: {headline}"


def mean_std(values: Sequence[float]) -> tuple:
    """``(n, mean, sample std)``; mean is ``None`` without values, std below two."""
    n = len(values)
    mean = statistics.fmean(values) if n else None
    return n, mean, statistics.stdev(values) if n > 1 else None


def collect(runs: Sequence) -> list:
    """One row per (arm, metric) in plan order: ``arm``, ``metric``, ``n``, ``mean``, ``std``,
    ``seeds`` (seed -> value, every seed of the sweep that has one) and ``data`` / ``stream``."""
    rows: dict = {}
    for run in sorted(runs, key=lambda r: r.seed):
        pending = pending_steps(run, read_record(run))
        for step in run.steps[1:]:
            if step in pending:
                continue
            metrics = read_metrics(step.out)
            ident = identity(metrics)
            for headline, value in metrics.get("headline", {}).items():
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                metric = metric_name(step.name, step.argv[0], headline)
                row = rows.setdefault((run.arm, metric), {"arm": run.arm, "metric": metric, "seeds": {},
                                                          "data": ident["data"], "stream": ident["stream"]})
                row["seeds"][run.seed] = float(value)
    arms = list(dict.fromkeys(run.arm for run in runs))
    ordered = sorted(rows.values(), key=lambda r: arms.index(r["arm"]))  # stable: metric order kept
    for row in ordered:
        row["n"], row["mean"], row["std"] = mean_std(list(row["seeds"].values()))
    return ordered


def seed_column(seed: int) -> str:
    return f"seed {seed}"


def table(rows: Sequence[Mapping], seeds: Sequence[int]) -> Gathered:
    """The rows as a report table: arm, metric, n, mean, std, a column per seed (data and stream
    are shown once as the caption when every row has the same)."""
    columns = ["arm", "metric", "n", "mean", "std", *map(seed_column, seeds), "data", "stream"]
    cells = [{**{k: row[k] for k in ("arm", "metric", "n", "mean", "std", "data", "stream")},
              **{seed_column(s): v for s, v in row["seeds"].items()}} for row in rows]
    return Gathered(columns=columns, rows=cells)


def failure_lines(outcomes: Sequence) -> list:
    return [f"- {o.run.label}: {o.step} failed (exit {o.returncode}), log {o.log}: {o.message}"
            for o in outcomes if o.status == "failed"]


def write_summary(out: Path, rows: Sequence[Mapping], seeds: Sequence[int], runs: Sequence, outcomes: Sequence,
                  title: str, sweep_file: Path) -> list:
    """``OUT/sweep.md``, ``sweep.json``, ``sweep.png`` (one point per seed) and
    ``training_curves.png`` (every run's pretraining); returns the paths written."""
    from actclr.viz.curves import draw_training_curves
    from actclr.viz.seeds import draw_seeds

    out = Path(out)
    pictures = []
    if rows:
        pictures.append(draw_seeds(rows, out / SEEDS_PNG, title=title))
    curves = {run.label: read_rows(run.dir / PRETRAIN / "metrics.jsonl") for run in runs
              if (run.dir / PRETRAIN / "metrics.jsonl").is_file()}
    if any(curves.values()):
        pictures.append(draw_training_curves(curves, out / CURVES_PNG))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("finished", "skipped", "failed")}
    lines = [f"# {title}", "", f"Sweep file `{sweep_file}`; {len(runs)} runs: {counts['finished']} finished now, "
             f"{counts['skipped']} done before, {counts['failed']} failed.", ""]
    lines += [markdown_table(table(rows, seeds)) if rows else "No evaluation results yet.", STD_NOTE, ""]
    lines += [f"![{p.stem}]({p.name})" for p in pictures]
    failures = failure_lines(outcomes)
    if failures:
        lines += ["", "## Failed runs", "", *failures]
    write_bytes(out / SUMMARY_MD, ("\n".join(lines) + "\n").encode())
    write_json(out / SUMMARY_JSON, {
        "created": now(), "title": title, "sweep_file": str(sweep_file), "seeds": list(seeds),
        "std": "sample standard deviation (n - 1)",
        "rows": [{**row, "seeds": {str(s): v for s, v in row["seeds"].items()}} for row in rows],
        "runs": [o.to_dict() for o in outcomes]})
    return [out / SUMMARY_MD, out / SUMMARY_JSON, *pictures]
