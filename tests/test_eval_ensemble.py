"""Multi-stream ensemble: official weights, alignment checks, the ``ensemble`` command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from actclr.cli.train import cli
from actclr.eval.ensemble import STREAM_WEIGHTS, ensemble_runs, load_run, weighted_logits
from actclr.eval.outputs import write_run

KEYS = ["a", "b", "c"]
LABELS = np.array([0, 1, 2])


def _run(tmp_path, name, stream, logits, keys=KEYS, labels=LABELS):
    metrics = {"command": "linear", "title": name, "stream": stream, "top1": 0.0,
               "encoder": {"name": "enc"}, "data": {"name": "ntu60", "benchmark": "xview"}}
    return write_run(tmp_path / name, metrics, logits=np.asarray(logits, dtype=np.float32), keys=keys, labels=labels)


def test_weighted_logits_is_the_weighted_sum():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 3.0]])
    np.testing.assert_allclose(weighted_logits([a, b], [0.6, 0.4]), [[0.6, 1.2]])


def test_official_weights_decide_between_disagreeing_streams(tmp_path):
    # joint and bone vote for class 0 with margin 1, motion for class 1 with margin 2:
    # 0.6 + 0.6 = 1.2 for class 0 beats 0.4 * 2 = 0.8 for class 1 (equal weights would not).
    joint = _run(tmp_path, "joint", "joint", [[1, 0, 0]] * 3)
    bone = _run(tmp_path, "bone", "bone", [[1, 0, 0]] * 3)
    motion = _run(tmp_path, "motion", "motion", [[0, 2, 0]] * 3)
    runs = [load_run(p) for p in (joint, motion, bone)]
    results, logits = ensemble_runs(runs)
    assert [m["weight"] for m in results["members"]] == [STREAM_WEIGHTS[s] for s in ("joint", "motion", "bone")]
    np.testing.assert_allclose(logits[0], [1.2, 0.8, 0.0])
    assert results["top1"] == pytest.approx(100 / 3)  # class 0 everywhere; only sample "a" is class 0
    _, equal = ensemble_runs(runs, weights=[1, 3, 1])
    assert equal[0].argmax() == 1


def test_runs_must_share_keys_in_order(tmp_path):
    first = load_run(_run(tmp_path, "j", "joint", np.eye(3)))
    reordered = load_run(_run(tmp_path, "m", "motion", np.eye(3), keys=["b", "a", "c"]))
    other = load_run(_run(tmp_path, "b", "bone", np.eye(3), keys=["a", "b", "x"]))
    with pytest.raises(ValueError, match="another order"):
        ensemble_runs([first, reordered])
    with pytest.raises(ValueError, match="1 missing, 1 extra"):
        ensemble_runs([first, other])


def test_ensemble_command_writes_metrics_and_logits(tmp_path):
    runs = [_run(tmp_path, s, s, np.eye(3) * (i + 1)) for i, s in enumerate(("joint", "motion", "bone"))]
    out = tmp_path / "ens"
    result = CliRunner().invoke(cli, ["ensemble", *map(str, runs), "--out", str(out), "--weights", "1,1,1"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["top1"] == 100.0 and metrics["knobs"]["weights"] == [1.0, 1.0, 1.0]
    assert metrics["stream"] == "joint+motion+bone"
    np.testing.assert_allclose(np.load(out / "logits.npy"), np.eye(3) * 6)
    assert (out / "keys.txt").read_text().split() == KEYS
    bad = CliRunner().invoke(cli, ["ensemble", *map(str, runs), "--out", str(out), "--weights", "1,1"])
    assert bad.exit_code != 0 and "3 runs but 2 weights" in bad.output


@pytest.mark.parametrize("streams, label", [(("joint", "motion", "bone"), "3s"), (("joint", "joint"), "joint x2"),
                                            (("joint", "joint", "bone"), "joint x2+bone")])
def test_ensemble_is_named_after_the_streams_it_combines(tmp_path, streams, label):
    runs = [_run(tmp_path, f"{s}{i}", s, np.eye(3)) for i, s in enumerate(streams)]
    out = tmp_path / "ens"
    result = CliRunner().invoke(cli, ["ensemble", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["headline"]) == [f"{label} top-1"]
    assert metrics["title"].startswith(f"ensemble {label} ({'+'.join(streams)}) on ntu60/xview")
