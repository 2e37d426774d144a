"""``actclr-train sweep`` end to end at tiny size: 2 arms x 2 seeds of 1-epoch pretraining + kNN, as
real subprocesses, 2 at a time; then the table, JSON and plot, and a re-run that skips everything."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from click.testing import CliRunner

from actclr.cli.train import cli
from actclr.engine.checkpoint import load_checkpoint

#: One epoch of two steps of 4 sequences with a narrow ST-GCN, no kNN monitor (tests/test_pretrain_run.py).
TINY = ["data.mode=resampled", "data.samples_per_epoch=8", "data.batch_size=4", "train.epochs=1", "monitor.every=0",
        "model.hidden_channels=8", "model.out_channels=64", "model.projector={hidden_dim: 64, out_dim: 32}"]


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swept(synth_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    spec = {"benchmark": "xsub", "seeds": [0, 1], "set": TINY,
            "evaluations": {"knn": {"k": [1, 5], "primary-k": 5, "batch-size": 64}},
            "arms": {"actclr": {"recipe": "actclr_synth-xsub_joint_1xcpu_demo"},
                     "mocov2": {"recipe": "actclr_synth-xsub_joint_1xcpu_demo",
                                "set": ["method={name: mocov2, queue_size: 128}"]}},
            "reference": "mocov2"}
    (root / "tiny.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    args = ["sweep", str(root / "tiny.yaml"), "--data", str(synth_dataset), "--out", str(root / "out"),
            "--parallel", "2", "--threads-per-run", "1"]
    result = CliRunner().invoke(cli, args)
    return root / "out", args, result


def test_every_run_is_pretrained_and_evaluated_and_summarised(swept):
    out, _, result = swept
    assert result.exit_code == 0, result.output
    assert "4 runs (2 arms x 2 seeds), evaluations knn; 4 new; 2 at a time, 1 thread(s) each" in result.output
    for arm in ("actclr", "mocov2"):
        for seed in (0, 1):
            run = out / arm / f"seed-{seed}"
            assert (run / "pretrain" / "encoder.pt").is_file() and (run / "eval" / "knn" / "metrics.json").is_file()
            assert f"--seed {seed}" in (run / "logs" / "pretrain.log").read_text()
            config = yaml.safe_load((run / "pretrain" / "config.yaml").read_text())
            assert config["train"]["seed"] == seed and config["method"]["name"] == arm
    summary = json.loads((out / "sweep.json").read_text())
    cosine = "pretrain: key cosine at the end"  # the recipe has no kNN monitor: no monitor change
    assert [(r["arm"], r["metric"], r["n"], sorted(r["seeds"])) for r in summary["rows"]] == [
        ("actclr", "kNN top-1", 2, ["0", "1"]), ("actclr", cosine, 2, ["0", "1"]),
        ("mocov2", "kNN top-1", 2, ["0", "1"]), ("mocov2", cosine, 2, ["0", "1"])]
    for row in summary["rows"]:
        values = list(row["seeds"].values())
        assert row["mean"] == pytest.approx(sum(values) / 2, abs=1e-9)
        assert row["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5, abs=1e-9)
        if row["metric"] == cosine:
            epochs = (out / row["arm"] / "seed-0" / "pretrain" / "metrics.jsonl").read_text().splitlines()
            assert row["seeds"]["0"] == json.loads(epochs[-1])["key_cosine"]
        else:
            knn = json.loads((out / row["arm"] / "seed-0" / "eval" / "knn" / "metrics.json").read_text())
            assert row["seeds"]["0"] == knn["headline"]["kNN top-1"]
    table = (out / "sweep.md").read_text()
    assert "| arm | metric | n | mean | std | seed 0 | seed 1 |" in table
    assert table.count("| kNN top-1 | 2 |") == 3  # both arms, and actclr minus mocov2
    knn = {row["arm"]: row["seeds"] for row in summary["rows"] if row["metric"] == "kNN top-1"}
    (difference,) = [row for row in summary["paired"] if row["metric"] == "kNN top-1"]
    assert difference["arm"] == "actclr" and difference["seeds"] == pytest.approx(
        {s: knn["actclr"][s] - knn["mocov2"][s] for s in ("0", "1")}, abs=1e-9)
    assert "## Minus `mocov2`, seed by seed" in table and "minus mocov2, seed by seed" in result.output
    for picture in ("sweep.png", "training_curves.png"):
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    assert (out / "sweep.yaml").is_file()


def test_the_seed_reaches_the_weights(swept):
    out, _, _ = swept
    weights = [load_checkpoint(out / "actclr" / f"seed-{s}" / "pretrain" / "encoder.pt")["encoder"] for s in (0, 1)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_rerun_skips_finished_runs(swept):
    out, args, _ = swept
    before = (out / "actclr" / "seed-0" / "eval" / "knn" / "metrics.json").stat().st_mtime_ns
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 done;" in result.output and "pretrain done" not in result.output
    assert (out / "actclr" / "seed-0" / "eval" / "knn" / "metrics.json").stat().st_mtime_ns == before
    assert "4 runs: 0 finished now, 4 done before, 0 failed" in (out / "sweep.md").read_text()


def test_errors_before_anything_runs_name_the_file(synth_dataset, tmp_path):
    spec = {"seeds": 1, "evaluations": {"knn": {"primary-k": 0}},
            "arms": {"a": {"recipe": "actclr_synth-xsub_joint_1xcpu_demo"}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    base = ["sweep", str(path), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, [*base, "--data", str(synth_dataset)])
    assert result.exit_code == 2 and f"{path}: a, knn: Invalid value for '--primary-k'" in result.output
    spec["evaluations"] = ["knn"]
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(cli, [*base, "--data", str(tmp_path / "missing")])
    assert result.exit_code == 2 and f"{tmp_path / 'missing'}: no dataset.json" in result.output
    result = CliRunner().invoke(cli, [*base, "--data", str(synth_dataset), "--dry-run"])
    assert result.exit_code == 0 and "1 new" in result.output and not (tmp_path / "out").exists()
