"""The sweep's summary: per arm and metric the mean, the sample std and every seed's value.

Values are the ``headline`` numbers of the evaluations' ``metrics.json`` (read with
:func:`actclr.eval.outputs.read_metrics`); only evaluations that are done under the sweep's current
settings count. A metric is named by its headline (``linear top-1``) or, for an evaluation whose
name is not its command, ``<name>: <headline>``. ``std`` is the sample standard deviation (n - 1
in the denominator), ``None`` below two values.

Each finished pretraining adds its own signals from its epoch rows (``pretrain/metrics.jsonl``,
:func:`pretrain_signals`): how far the kNN monitor (training data only) moved over the last phase,
and the last epoch's mean key cosine. A negative change is a phase that ended below its start,
e.g. an ActCLR phase below its warm-up.

With a ``reference`` arm, :func:`paired` gives every other arm minus the reference seed by seed
(the mean, std and each seed of the differences). Runs of one seed share the initialisation, the
data order and, with a shared warm-up, the whole warm-up, so the differences are free of what
the seed does to every arm alike.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from actclr.engine.guard import kept_epoch, phase_signals
from actclr.engine.log import read_rows
from actclr.eval.outputs import Gathered, identity, markdown_table, now, read_metrics
from actclr.store.atomic import write_bytes, write_json
from actclr.sweep.plan import PRETRAIN
from actclr.sweep.run import pending_steps, read_record

SUMMARY_MD, SUMMARY_JSON, SEEDS_PNG, CURVES_PNG = "sweep.md", "sweep.json", "sweep.png", "training_curves.png"
MONITOR_CHANGE = "pretrain: kNN monitor, last phase end - start"
KEY_COSINE = "pretrain: key cosine at the end"
PAIRED_NOTE = ("Each value is the arm's result minus `{reference}`'s with the same seed (same initialisation, "
               "data order, and the same warm-up where the arms share it); mean and std are those of the "
               "differences.")
STD_NOTE = "std: sample standard deviation (n - 1 in the denominator), - below 2 seeds; n: seeds with a result."


def metric_name(evaluation: str, command: str, headline: str) -> str:
    return headline if evaluation == command else f"{evaluation}: {headline}"


def mean_std(values: Sequence[float]) -> tuple:
    """``(n, mean, sample std)``; mean is ``None`` without values, std below two."""
    n = len(values)
    mean = statistics.fmean(values) if n else None
    return n, mean, statistics.stdev(values) if n > 1 else None


def pretrain_signals(rows: Sequence[Mapping]) -> dict:
    """``{metric: value}`` of one pretraining's epoch rows: :data:`MONITOR_CHANGE` (the last phase's
    last kNN monitor reading minus its phase-start reading, if the monitor ran; for a phase that
    ``monitor.guard: stop`` ended, the reading of the epoch it kept) and
    :data:`KEY_COSINE` (the last epoch's); signals a run did not log are left out."""
    if not rows:
        return {}
    last = rows[-1]
    out = {}
    knn_key = next((k for row in rows for k in row if k.startswith("knn_top1@")), None)
    if knn_key is not None:
        signals = phase_signals(rows, str(last.get("phase")), knn_key)
        readings = signals.readings()
        if signals.start_knn is not None and len(readings) > 1:
            kept = kept_epoch(str(last.get("guard", "")))  # a phase the guard stopped ends at its kept epoch
            end = readings[-1][1] if kept is None else dict(readings).get(kept)
            if end is not None:
                out[MONITOR_CHANGE] = float(end - signals.start_knn)
    if isinstance(last.get("key_cosine"), (int, float)):
        out[KEY_COSINE] = float(last["key_cosine"])
    return out


def collect(runs: Sequence) -> list:
    """One row per (arm, metric) in plan order, the evaluations' metrics before the pretraining's
    (:func:`pretrain_signals`): ``arm``, ``metric``, ``n``, ``mean``, ``std``, ``seeds`` (seed ->
    value, every seed of the sweep that has one) and ``data`` / ``stream`` (a pretraining signal
    takes its run's first evaluation's)."""
    rows: dict = {}

    def add(run, metric: str, value: float, ident: Mapping) -> None:
        row = rows.setdefault((run.arm, metric), {"arm": run.arm, "metric": metric, "seeds": {},
                                                  "data": ident.get("data"), "stream": ident.get("stream")})
        row["seeds"][run.seed] = float(value)

    for run in sorted(runs, key=lambda r: r.seed):
        pending = pending_steps(run, read_record(run))
        ident: Mapping = {}
        for step in run.steps[1:]:
            if step in pending:
                continue
            metrics = read_metrics(step.out)
            here = identity(metrics)
            ident = ident or here
            for headline, value in metrics.get("headline", {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    add(run, metric_name(step.name, step.argv[0], headline), value, here)
        epochs = run.dir / PRETRAIN / "metrics.jsonl"
        if run.steps[0] not in pending and epochs.is_file():
            for metric, value in pretrain_signals(read_rows(epochs)).items():
                add(run, metric, value, ident)
    arms = list(dict.fromkeys(run.arm for run in runs))
    own = (MONITOR_CHANGE, KEY_COSINE)  # stable sort: the metric order within each group is kept
    ordered = sorted(rows.values(), key=lambda r: (arms.index(r["arm"]), r["metric"] in own))
    for row in ordered:
        row["n"], row["mean"], row["std"] = mean_std(list(row["seeds"].values()))
    return ordered


def paired(rows: Sequence[Mapping], reference: str) -> list:
    """Rows of :func:`collect` minus the ``reference`` arm's row of the same metric, seed by seed
    (seeds both have); one row per other arm and metric, shaped like :func:`collect`'s."""
    base = {row["metric"]: row for row in rows if row["arm"] == reference}
    out = []
    for row in rows:
        ref = base.get(row["metric"])
        if row["arm"] == reference or ref is None:
            continue
        seeds = {s: v - ref["seeds"][s] for s, v in row["seeds"].items() if s in ref["seeds"]}
        n, mean, std = mean_std(list(seeds.values()))
        out.append({**row, "seeds": seeds, "n": n, "mean": mean, "std": std})
    return out


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
                  title: str, sweep_file: Path, reference: str | None = None) -> list:
    """``OUT/sweep.md``, ``sweep.json``, ``sweep.png`` (one point per seed) and
    ``training_curves.png`` (every run's pretraining); with ``reference``, the :func:`paired` rows
    too. Returns the paths written."""
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
    differences = paired(rows, reference) if reference is not None else []
    if differences:
        lines += [f"## Minus `{reference}`, seed by seed", "", PAIRED_NOTE.format(reference=reference), "",
                  markdown_table(table(differences, seeds)), ""]
    lines += [f"![{p.stem}]({p.name})" for p in pictures]
    failures = failure_lines(outcomes)
    if failures:
        lines += ["", "## Failed runs", "", *failures]
    write_bytes(out / SUMMARY_MD, ("\n".join(lines) + "\n").encode())
    write_json(out / SUMMARY_JSON, {
        "created": now(), "title": title, "sweep_file": str(sweep_file), "seeds": list(seeds),
        "std": "sample standard deviation (n - 1)",
        "rows": [{**row, "seeds": {str(s): v for s, v in row["seeds"].items()}} for row in rows],
        "reference": reference,
        "paired": [{**row, "seeds": {str(s): v for s, v in row["seeds"].items()}} for row in differences],
        "runs": [o.to_dict() for o in outcomes]})
    return [out / SUMMARY_MD, out / SUMMARY_JSON, *pictures]
