"""The sweep summary: hand-computed mean and sample std, rows from the evaluations' metrics.json
and the pretraining's own signals, the table, the JSON and one plotted point per seed."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from matplotlib.collections import PathCollection

from actclr.eval.outputs import markdown_table, write_run
from actclr.sweep.plan import load_sweep, plan_runs
from actclr.sweep.run import RECORD, Outcome
from actclr.sweep.summary import (
    KEY_COSINE,
    MONITOR_CHANGE,
    collect,
    mean_std,
    paired,
    pretrain_signals,
    table,
    write_summary,
)
from actclr.viz.seeds import seeds_figure

RECIPE = "actclr_synth-xsub_joint_1xcpu_demo"
LINEAR = {0: 40.0, 1: 44.0, 2: 45.0}  # mean 43, sample std sqrt((9 + 1 + 4) / 2) = sqrt(7)


def test_mean_and_sample_std_by_hand():
    n, mean, std = mean_std(list(LINEAR.values()))
    assert n == 3 and mean == pytest.approx(43.0, abs=1e-12)
    assert std == pytest.approx(math.sqrt(7.0), abs=1e-12)  # n - 1 = 2 in the denominator, not 3
    assert mean_std([12.5]) == (1, 12.5, None)
    assert mean_std([]) == (0, None, None)


def finished_runs(tmp_path: Path) -> list:
    """A sweep of arms a, b x seeds 0..2 whose evaluations 'linear' and 'knn-embed' (command knn)
    wrote metrics.json; a's seed 2 has no linear result (failed) and b's seed 1 a stale knn."""
    spec = {"data": str(tmp_path / "data"), "seeds": [0, 1, 2],
            "evaluations": {"linear": {}, "knn-embed": {"command": "knn", "feature": "embed"}},
            "arms": {"a": {"recipe": RECIPE}, "b": {"recipe": RECIPE}}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    runs = plan_runs(load_sweep(tmp_path / "sweep.yaml"), tmp_path / "out")
    data = {"name": "ntu60-synth", "benchmark": "xsub"}
    for run in runs:
        run.steps[0].out.mkdir(parents=True)
        (run.steps[0].result).write_bytes(b"x")
        record = {"pretrain": run.steps[0].settings, "evaluations": {}}
        for step, value in zip(run.steps[1:], (LINEAR[run.seed] + (run.arm == "b") * 10, 30.0 + run.seed)):
            if run.arm == "a" and run.seed == 2 and step.name == "linear":
                continue
            write_run(step.out, {"title": step.name, "data": data, "stream": "joint",
                                 "headline": {"linear top-1" if step.name == "linear" else "kNN top-1": value,
                                              "note": "text is not a metric"}})
            if not (run.arm == "b" and run.seed == 1 and step.name == "knn-embed"):
                record["evaluations"][step.name] = step.settings
        (run.dir / RECORD).write_text(json.dumps(record))
    return runs


def test_rows_hold_every_seed_with_a_current_result(tmp_path):
    rows = collect(finished_runs(tmp_path))
    assert [(r["arm"], r["metric"]) for r in rows] == [
        ("a", "linear top-1"), ("a", "knn-embed: kNN top-1"), ("b", "linear top-1"), ("b", "knn-embed: kNN top-1")]
    a_linear, a_knn, b_linear, b_knn = rows
    assert a_linear["seeds"] == {0: 40.0, 1: 44.0} and a_linear["n"] == 2
    assert a_linear["mean"] == pytest.approx(42.0, abs=1e-12)
    assert a_linear["std"] == pytest.approx(math.sqrt(8.0), abs=1e-12)
    assert b_linear["seeds"] == {0: 50.0, 1: 54.0, 2: 55.0} and b_linear["mean"] == pytest.approx(53.0, abs=1e-12)
    assert b_linear["std"] == pytest.approx(math.sqrt(7.0), abs=1e-12)
    assert b_knn["seeds"] == {0: 30.0, 2: 32.0}  # seed 1's knn was run with other settings
    assert a_knn["data"] == "ntu60-synth/xsub" and a_knn["stream"] == "joint"


def test_table_json_and_plot(tmp_path):
    runs = finished_runs(tmp_path)
    rows = collect(runs)
    md = markdown_table(table(rows, (0, 1, 2))).splitlines()
    assert md[0] == "| arm | metric | n | mean | std | seed 0 | seed 1 | seed 2 |"
    assert md[2] == "| a | linear top-1 | 2 | 42.00 | 2.83 | 40.00 | 44.00 | - |"
    assert md[-1] == "data: ntu60-synth/xsub, stream: joint"

    fig = seeds_figure(rows)
    panels = fig.axes
    assert [ax.get_title() for ax in panels] == ["linear top-1", "knn-embed: kNN top-1"]
    points = [c for c in panels[0].collections if isinstance(c, PathCollection)]  # the scatters
    plotted = sorted(float(y) for c in points for _, y in c.get_offsets())
    assert plotted == sorted([40.0, 44.0, 50.0, 54.0, 55.0])  # every seed of both arms
    assert sorted(t.get_text() for t in panels[0].texts) == ["0", "0", "1", "1", "2"]

    failed = Outcome(runs[4], "failed", "linear", runs[4].dir / "logs" / "linear.log", 1, "Error: boom")
    outcomes = [Outcome(r, "finished") for r in runs]
    outcomes[4] = failed
    written = write_summary(tmp_path / "out", rows, (0, 1, 2), runs, outcomes, "test sweep", tmp_path / "sweep.yaml")
    assert [p.name for p in written] == ["sweep.md", "sweep.json", "sweep.png"]
    text = (tmp_path / "out" / "sweep.md").read_text()
    assert "5 finished now, 0 done before, 1 failed" in text and "sample standard deviation (n - 1" in text
    assert f"- a seed 2: linear failed (exit 1), log {runs[4].dir / 'logs' / 'linear.log'}: Error: boom" in text
    saved = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert saved["rows"][0]["seeds"] == {"0": 40.0, "1": 44.0}
    assert saved["runs"][4]["status"] == "failed" and saved["runs"][4]["message"] == "Error: boom"
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


#: Epoch rows of a two-phase pretraining: the monitor reads 40 at the main phase's start (the
#: warm-up's end), 46 after its epoch 4 and 35 at its end; the warm-up's own readings don't count.
TWO_PHASES = [
    {"epoch": 1, "phase": "warmup", "key_cosine": 0.9, "start_knn_top1@5": 20.0},
    {"epoch": 2, "phase": "warmup", "key_cosine": 0.8, "knn_top1@5": 40.0},
    {"epoch": 3, "phase": "main", "key_cosine": 0.85, "start_knn_top1@5": 40.0},
    {"epoch": 4, "phase": "main", "key_cosine": 0.9, "knn_top1@5": 46.0},
    {"epoch": 5, "phase": "main", "key_cosine": 0.95},
    {"epoch": 6, "phase": "main", "key_cosine": 0.97, "knn_top1@5": 35.0},
]


def test_pretrain_signals_of_the_last_phase():
    assert pretrain_signals(TWO_PHASES) == {MONITOR_CHANGE: pytest.approx(-5.0, abs=1e-12),
                                            KEY_COSINE: pytest.approx(0.97, abs=1e-12)}
    # no monitor reading after the phase start, no monitor at all, no rows
    assert pretrain_signals(TWO_PHASES[:3]) == {KEY_COSINE: pytest.approx(0.85, abs=1e-12)}
    assert pretrain_signals([{k: v for k, v in r.items() if "knn" not in k} for r in TWO_PHASES]) == {
        KEY_COSINE: pytest.approx(0.97, abs=1e-12)}
    assert pretrain_signals([]) == {}
    # monitor.guard: stop ended the phase and went back to epoch 4 (46): that is where it ends
    stopped = [*TWO_PHASES[:-1], {**TWO_PHASES[-1], "guard": "collapsing: ...; stopped the phase, kept epoch 4"}]
    assert pretrain_signals(stopped)[MONITOR_CHANGE] == pytest.approx(6.0, abs=1e-12)
    back = [*TWO_PHASES[:-1], {**TWO_PHASES[-1], "guard": "collapsing: ...; stopped the phase, kept epoch 2"}]
    assert pretrain_signals(back)[MONITOR_CHANGE] == pytest.approx(0.0, abs=1e-12)  # the phase start


def test_finished_pretrainings_add_their_signals_after_the_evaluations(tmp_path):
    runs = finished_runs(tmp_path)
    for run in runs:
        rows = [dict(r) for r in TWO_PHASES]
        rows[-1]["knn_top1@5"] = 35.0 + run.seed  # changes -5, -4, -3
        (run.steps[0].out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (runs[1].steps[0].result).unlink()  # b seed 0 (seed-major order): its pretraining is not finished
    rows = collect(runs)
    assert [(r["arm"], r["metric"]) for r in rows] == [
        ("a", "linear top-1"), ("a", "knn-embed: kNN top-1"), ("a", MONITOR_CHANGE), ("a", KEY_COSINE),
        ("b", "linear top-1"), ("b", "knn-embed: kNN top-1"), ("b", MONITOR_CHANGE), ("b", KEY_COSINE)]
    a_change, b_change = rows[2], rows[6]
    assert a_change["seeds"] == pytest.approx({0: -5.0, 1: -4.0, 2: -3.0}, abs=1e-12)
    assert a_change["mean"] == pytest.approx(-4.0, abs=1e-12) and a_change["data"] == "ntu60-synth/xsub"
    assert b_change["seeds"] == pytest.approx({1: -4.0, 2: -3.0}, abs=1e-12)
    assert markdown_table(table(rows, (0, 1, 2))).splitlines()[-1] == "data: ntu60-synth/xsub, stream: joint"


def test_paired_differences_seed_by_seed(tmp_path):
    runs = finished_runs(tmp_path)
    rows = collect(runs)
    differences = paired(rows, "a")
    assert [(r["arm"], r["metric"]) for r in differences] == [("b", "linear top-1"), ("b", "knn-embed: kNN top-1")]
    linear, knn = differences
    # b's linear is a's + 10 on seeds 0, 1; a has no seed 2: differences 10, 10 (std 0, not b's 2.6)
    assert linear["seeds"] == pytest.approx({0: 10.0, 1: 10.0}, abs=1e-12) and linear["n"] == 2
    assert linear["mean"] == pytest.approx(10.0, abs=1e-12) and linear["std"] == pytest.approx(0.0, abs=1e-12)
    assert knn["seeds"] == pytest.approx({0: 0.0, 2: 0.0}, abs=1e-12)  # b's seed 1 knn is stale
    assert paired(rows, "b")[0]["seeds"] == pytest.approx({0: -10.0, 1: -10.0}, abs=1e-12)

    outcomes = [Outcome(r, "finished") for r in runs]
    write_summary(tmp_path / "out", rows, (0, 1, 2), runs, outcomes, "t", tmp_path / "sweep.yaml", reference="a")
    text = (tmp_path / "out" / "sweep.md").read_text()
    assert "## Minus `a`, seed by seed" in text
    assert "| b | linear top-1 | 2 | 10.00 | 0.00 | 10.00 | 10.00 | - |" in text
    saved = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert saved["reference"] == "a" and saved["paired"][0]["seeds"] == {"0": 10.0, "1": 10.0}
    write_summary(tmp_path / "plain", rows, (0, 1, 2), runs, outcomes, "t", tmp_path / "sweep.yaml")
    assert "Minus" not in (tmp_path / "plain" / "sweep.md").read_text()
    assert json.loads((tmp_path / "plain" / "sweep.json").read_text())["paired"] == []
