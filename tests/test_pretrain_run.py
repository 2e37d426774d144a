"""``actclr-train pretrain`` on the synthetic dataset: outputs, learning, exact resume, phases, errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from click.testing import CliRunner

from actclr.cli.train import cli
from actclr.engine.checkpoint import load_checkpoint
from actclr.engine.config import build_config, encoder_config
from actclr.models import build_encoder

DEMO = "actclr_synth-xsub_joint_1xcpu_demo"
#: Two steps of 4 sequences per epoch (resampled mode) and a narrower ST-GCN (T stays 50), to keep
#: the tests fast on a shared CPU; the engine does not depend on the model's width.
SMALL_MODEL = ("model.hidden_channels=8", "model.out_channels=64", "model.projector={hidden_dim: 64, out_dim: 32}")
OVERRIDES = ("data.mode=resampled", "data.samples_per_epoch=8") + SMALL_MODEL
FAST = ("--batch-size", "4", *(arg for item in OVERRIDES for arg in ("--set", item)))
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pretrain(data, out, *args: str):
    """Run the command in-process; fail the test with its output if it fails."""
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(data), "--out", str(out),
                                      "--config", DEMO, *FAST, *args])
    if result.exit_code != 0:
        raise AssertionError(f"exit {result.exit_code}: {result.output}\n{result.exception!r}")
    return result


def trained_state(run) -> dict:
    return load_checkpoint(run / "checkpoints" / "last.pt")["method"]


@pytest.fixture(scope="module")
def four_epochs(synth_dataset, one_torch_thread, tmp_path_factory):
    """An uninterrupted 4-epoch demo run."""
    run = tmp_path_factory.mktemp("runs") / "four"
    pretrain(synth_dataset, run, "--epochs", "4")
    return run


def test_short_cpu_run_lowers_the_loss_and_writes_the_run_directory(synth_dataset, four_epochs):
    rows = [json.loads(line) for line in (four_epochs / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert all(r["samples_per_s"] > 0 and r["lr"] == 0.05 for r in rows)
    assert "knn_top1@5" in rows[1] and "knn_top1@5" not in rows[0]  # monitor every 2 epochs
    assert 0 <= rows[0]["actionlet_key"] <= 1
    header = (four_epochs / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "loss", "lr", "samples_per_s", "epoch_time_s", "knn_top1@5"} <= set(header)

    saved = yaml.safe_load((four_epochs / "config.yaml").read_text())
    expected = build_config(DEMO, {"train.epochs": 4, "data.batch_size": 4}, OVERRIDES)
    assert saved == json.loads(json.dumps(expected))
    env = json.loads((four_epochs / "env.json").read_text())
    info = json.loads((synth_dataset / "dataset.json").read_text())
    assert env["world_size"] == 1 and env["effective_batch_size"] == 4 and env["device"] == "cpu"
    assert env["dataset"]["fingerprint"] == info["fingerprint"] and env["dataset"]["profile"] == info["profile"]
    assert env["versions"]["torch"] == torch.__version__

    last = load_checkpoint(four_epochs / "checkpoints" / "last.pt")
    assert last["epoch"] == 4 and last["phase"] == "main" and int(last["method"]["queue.ptr"]) > 0
    assert (four_epochs / "checkpoints" / "epoch_0004.pt").is_file()  # the final epoch is kept
    exported = load_checkpoint(four_epochs / "encoder.pt")
    assert exported["stream"] == "joint" and exported["model"] == encoder_config(expected)
    encoder = build_encoder(exported["model"])
    encoder.load_state_dict(exported["encoder"])
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, last["method"][f"encoder_q.{key}"])


def test_interrupted_run_resumes_to_the_same_weights(synth_dataset, four_epochs, tmp_path):
    run = tmp_path / "resumed"
    pretrain(synth_dataset, run, "--epochs", "2")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    pretrain(synth_dataset, run, "--epochs", "4", "--resume")
    resumed, straight = trained_state(run), trained_state(four_epochs)
    assert resumed.keys() == straight.keys()
    different = [k for k in straight if not torch.equal(resumed[k], straight[k])]
    assert not different, f"state differs after resume: {different[:5]}"
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    assert len(json.loads((run / "env.json").read_text())["resumed"]) == 1


def test_resume_onto_another_dataset_is_refused_unless_forced(synth_dataset, four_epochs, tmp_path):
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset

    other = prepare_dataset(PrepareOptions("ntu60", (synth_dataset.parent / "raw",), tmp_path / "other",
                                           profile_params={"rotation": "none"})).out  # the same, not rotated
    old, new = (json.loads((d / "dataset.json").read_text())["fingerprint"] for d in (synth_dataset, other))
    assert old != new
    run = tmp_path / "run"
    shutil.copytree(four_epochs, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    args = ["pretrain", "--data", str(other), "--out", str(run), "--config", DEMO, *FAST, "--epochs", "4", "--resume"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and refused.stderr.splitlines() == [
        f"Error: {run / 'checkpoints' / 'last.pt'} was trained on the dataset with fingerprint {old}, but {other} "
        f"has fingerprint {new}; pass --force to resume onto this dataset anyway"]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing rewritten
    forced = CliRunner(env={"COLUMNS": "300"}).invoke(cli, args + ["--force"])
    assert forced.exit_code == 0, forced.output
    assert f"the dataset fingerprint changes from {old} to {new}" in forced.stderr
    assert json.loads((run / "env.json").read_text())["resumed"][-1]["dataset"]["fingerprint"] == new


def test_warmup_phase_then_actclr_and_init_from_an_encoder(synth_dataset, four_epochs, tmp_path):
    run = tmp_path / "two_phase"
    pretrain(synth_dataset, run, "--epochs", "1", "--set", "warmup.epochs=1",
             "--set", "warmup.method.name=mocov2", "--set", "warmup.method.queue_size=128",
             "--set", "monitor.every=0")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["phase"], r["phase_epoch"]) for r in rows] == [(1, "warmup", 1), (2, "main", 1)]
    assert "loss_infonce" in rows[0] and "loss_b1" in rows[1]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["method_name"] == "actclr"

    from actclr.engine.dist import init_distributed
    from actclr.engine.trainer import Trainer, unwrap
    from actclr.store import open_dataset

    cfg = build_config(DEMO, overrides=SMALL_MODEL)
    trainer = Trainer(cfg, open_dataset(synth_dataset), tmp_path / "init", init_distributed("cpu"))
    trainer.setup_phase(trainer.phases[0])
    trainer.initialise_from(four_epochs / "encoder.pt")
    source = load_checkpoint(four_epochs / "encoder.pt")["encoder"]
    method = unwrap(trainer.model)
    for encoder in (method.encoder_q, method.encoder_k):
        assert all(torch.equal(v, source[k]) for k, v in encoder.state_dict().items())


def test_cli_errors(synth_dataset, four_epochs, tmp_path):
    runner = CliRunner()
    base = ["pretrain", "--data", str(synth_dataset), "--config", DEMO]
    taken = runner.invoke(cli, base + ["--out", str(four_epochs)])
    assert taken.exit_code == 1 and "pass --resume" in taken.output
    bad = runner.invoke(cli, base + ["--out", str(tmp_path / "x"), "--set", "optim.lrr=1"])
    assert bad.exit_code == 2 and "unknown key 'optim.lrr'" in bad.output
    missing = runner.invoke(cli, base + ["--out", str(tmp_path / "y"), "--benchmark", "xset", "--epochs", "1"])
    assert missing.exit_code == 1 and "no benchmark 'xset'" in missing.output
    assert not (tmp_path / "x").exists()


def test_module_entry_point_for_torchrun():
    out = subprocess.run([sys.executable, "-m", "actclr.cli.train", "pretrain", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--resume" in out.stdout and "--set" in out.stdout


def test_a_strong_view_and_no_projector_train_end_to_end(synth_dataset, tmp_path):
    """Two configurations the owners accept: a new augmentation view (MoCo v2 queries it) and an
    encoder without a projector (MoCo v2 contrasts the pooled features); ActCLR, which needs a
    projector, says so before anything is written."""
    run = tmp_path / "strong"
    pretrain(synth_dataset, run, "--epochs", "1", "--set", "method.name=mocov2", "--set", "method.queue_size=128",
             "--set", "augment.views.strong=[crop, {name: flip, p: 0.5}]", "--set", "method.view_query=strong",
             "--set", "model.projector=null", "--set", "monitor.every=0")
    exported = load_checkpoint(run / "encoder.pt")
    assert exported["model"]["projector"] is None and not any(k.startswith("projector") for k in exported["encoder"])
    assert yaml.safe_load((run / "config.yaml").read_text())["augment"]["views"]["strong"][0] == "crop"
    refused = CliRunner().invoke(cli, ["pretrain", "--data", str(synth_dataset), "--out", str(tmp_path / "no"),
                                       "--config", DEMO, *FAST, "--set", "model.projector=null"])
    assert refused.exit_code == 1
    assert "main phase, method actclr: ActCLR needs an encoder with a projector" in refused.output
    assert "unexpected" not in refused.output
    assert not (tmp_path / "no").exists()


#: Guard limits that every phase meets (a 'collapse' at its first monitor reading after the start),
#: to exercise the trainer's guard hook; the verdicts themselves are tested in test_engine_guard.py.
ALWAYS_COLLAPSING = ("--set", "monitor.guard_knn_drop=-1000", "--set", "monitor.guard_cosine_rise=-10")


def test_guard_warns_in_the_log_and_the_metrics_and_trains_on(synth_dataset, tmp_path):
    """... and with ``monitor.precise_bn`` encoder.pt has BatchNorm statistics of the training split."""
    run = tmp_path / "warn"
    result = pretrain(synth_dataset, run, "--epochs", "2", "--set", "monitor.precise_bn=true", *ALWAYS_COLLAPSING)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert "start_knn_top1@5" in rows[0] and rows[0]["guard"] == "ok"  # one reading: nothing to compare
    assert rows[1]["guard"].startswith("collapsing: ")
    assert "guard: phase main (actclr) is collapsing at epoch 2" in " ".join(result.stderr.split())
    assert not (run / "checkpoints" / "best.pt").exists()
    exported, trained = load_checkpoint(run / "encoder.pt")["encoder"], trained_state(run)
    statistics = ("running_mean", "running_var", "num_batches_tracked")
    assert all(torch.equal(v, trained[f"encoder_q.{k}"]) for k, v in exported.items() if not k.endswith(statistics))
    key = "backbone.data_bn.running_mean"
    assert not torch.equal(exported[key], trained[f"encoder_q.{key}"])


def test_guard_stop_ends_the_phase_and_keeps_its_best_epoch(synth_dataset, tmp_path):
    """Warm-up of 4 epochs stopped at epoch 2 (epochs 3-4 skipped), then the main phase from the
    kept encoder, stopped at its first reading; encoder.pt is the main phase's best state."""
    run = tmp_path / "stop"
    result = pretrain(synth_dataset, run, "--epochs", "4", "--set", "warmup.epochs=4",
                      "--set", "warmup.method.name=mocov2", "--set", "warmup.method.queue_size=128",
                      "--set", "monitor.guard=stop", *ALWAYS_COLLAPSING)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["phase"]) for r in rows] == [(1, "warmup"), (2, "warmup"), (5, "main"), (6, "main")]
    for row in (rows[1], rows[3]):
        assert row["guard"].startswith("collapsing: ") and "stopped the phase, kept epoch" in row["guard"]
    assert " ".join(result.stderr.split()).count("guard: stopped phase") == 2
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    readings = {4: rows[2]["start_knn_top1@5"], 6: rows[3]["knn_top1@5"]}
    assert best["phase"] == "main" and best["epoch"] == max(readings, key=lambda e: (readings[e], -e))
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["epoch"] == 8 and last["phase"] == "main"
    exported = load_checkpoint(run / "encoder.pt")["encoder"]
    assert all(torch.equal(v, best["method"][f"encoder_q.{k}"]) for k, v in exported.items())
    again = pretrain(synth_dataset, run, "--epochs", "4", "--set", "warmup.epochs=4",
                     "--set", "warmup.method.name=mocov2", "--set", "warmup.method.queue_size=128",
                     "--set", "monitor.guard=stop", "--resume", *ALWAYS_COLLAPSING)
    assert "all 8 epochs are already trained" in " ".join(again.stderr.split())
