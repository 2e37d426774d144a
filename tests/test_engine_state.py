"""Engine state: checkpoints (weights_only round trip), RNG capture/restore, lr schedules, metrics."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from actclr.engine import rng
from actclr.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from actclr.engine.log import MetricsLog
from actclr.engine.schedule import LRSchedule


def _draws(g: torch.Generator) -> list:
    return [random.random(), float(np.random.rand()), torch.rand(3).tolist(),
            torch.rand(2, generator=g).tolist()]


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    g = torch.Generator().manual_seed(7)
    rng.seed_everything(3)
    np.random.randn()  # leave a cached gaussian in numpy's state
    random.gauss(0, 1)
    model = torch.nn.Linear(4, 2)
    state = rng.capture({"augment": g})
    save_checkpoint({"rng": state, "model": model.state_dict(), "epoch": 5, "cfg": {"a": [1, None]}},
                    tmp_path / "ck.pt")
    expected = _draws(g)
    _draws(g)  # move every generator on
    loaded = load_checkpoint(tmp_path / "ck.pt", required=("rng", "model"))
    rng.restore(loaded["rng"], {"augment": g})
    assert _draws(g) == expected
    assert loaded["epoch"] == 5 and loaded["cfg"] == {"a": [1, None]}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded["model"][key], value)
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed away


def test_load_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"epoch": 1}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"partial\.pt.*missing method"):
        load_checkpoint(tmp_path / "partial.pt", required=("method",))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_restore_rejects_a_missing_generator_state():
    state = rng.capture({})
    with pytest.raises(KeyError, match="augment"):
        rng.restore(state, {"augment": torch.Generator()})


def test_step_schedule_matches_the_official_decay():
    schedule = LRSchedule(base_lr=0.1, steps_per_epoch=10, epochs=350, milestones=(250,), gamma=0.1)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(250 * 10 - 1) == pytest.approx(0.1)  # last step of epoch 250
    assert schedule(250 * 10) == pytest.approx(0.01)  # first step of epoch 251
    two = LRSchedule(base_lr=1.0, steps_per_epoch=1, epochs=10, milestones=(2, 5), gamma=0.5)
    assert [two(s) for s in (1, 2, 5)] == pytest.approx([1.0, 0.5, 0.25])


def test_cosine_schedule_with_warmup():
    schedule = LRSchedule(base_lr=1.0, steps_per_epoch=10, epochs=10, name="cosine",
                          warmup_epochs=1, min_lr=0.1)
    assert schedule(0) == pytest.approx(0.1)  # 1/10 of the way through warm-up
    assert schedule(9) == pytest.approx(1.0)
    assert schedule(10) == pytest.approx(1.0)
    assert schedule(55) == pytest.approx(0.55)  # half-way through the cosine part
    assert schedule(99) > 0.1 and schedule(100) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown lr schedule"):
        LRSchedule(base_lr=1.0, steps_per_epoch=1, epochs=1, name="linear")


def test_metrics_log_writes_csv_and_jsonl_and_drops_rows_after_resume(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=False)
    log.log({"epoch": 1, "loss": 2.0})
    log.log({"epoch": 2, "loss": 1.5, "knn_top1@10": 40.0})
    log.log({"epoch": 3, "loss": 1.2})
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,knn_top1@10" and lines[1] == "1,2.0," and lines[2] == "2,1.5,40.0"
    resumed = MetricsLog(tmp_path, resume_epoch=2, tensorboard=False)
    resumed.log({"epoch": 3, "loss": 1.1})
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["loss"] == 1.1
    silent = MetricsLog(tmp_path / "other", enabled=False)
    silent.log({"epoch": 1})
    assert not (tmp_path / "other").exists()


def test_a_plain_process_is_a_world_of_one_and_bad_launcher_settings_fail(monkeypatch):
    from actclr.engine.dist import init_distributed, select_device

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    env = init_distributed("cpu")
    assert (env.rank, env.world_size, env.is_main, env.distributed) == (0, 1, True, False)
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            select_device("cuda")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="outside WORLD_SIZE=2"):
        init_distributed("cpu")
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK='one'"):
        init_distributed("cpu")
