"""Shared warm-ups of a sweep: which configurations agree on their warm-up, the plan, the order of
the jobs with fake commands, and (real subprocesses) that a run resumed from a warm-up trained for
another arm ends with exactly the weights of the same run trained alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from actclr.engine.checkpoint import load_checkpoint
from actclr.engine.config import build_config, warmup_identity
from actclr.engine.log import read_rows
from actclr.sweep.plan import load_sweep, plan_runs
from actclr.sweep.run import execute, run_command, thread_env, warmup_done

RECIPE = "mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo"
ONE_PHASE = ["warmup.epochs=0", "train.epochs=60", "method={name: mocov2}"]


def identity(*overrides: str, seed: int = 0) -> dict | None:
    return warmup_identity(build_config(RECIPE, {"train.seed": seed}, overrides))


def test_only_what_the_warmup_reads_makes_it_differ():
    base = identity()
    assert base is not None and base["warmup"]["epochs"] == 50
    for main_only in ("method.safp=none", "method.transforms=none", "train.epochs=20", "train.save_every=5",
                      "schedule.milestones=[3]"):  # the warm-up has its own milestones
        assert identity(main_only) == base, main_only
    for read_by_warmup in ("warmup.epochs=40", "warmup.method.momentum=0.99", "optim.lr=0.01",
                           "optim.weight_decay=0.001", "model.hidden_channels=16", "data.batch_size=16",
                           "augment.views.weak=[]", "monitor.every=5"):
        assert identity(read_by_warmup) != base, read_by_warmup
    assert identity(seed=1) != base
    assert identity(*ONE_PHASE) is None


def sweep_file(tmp_path: Path) -> Path:
    spec = {"data": str(tmp_path / "data"), "seeds": [0, 1], "evaluations": {"knn": {"k": [5]}},
            "arms": {"full": {"recipe": RECIPE}, "no-safp": {"recipe": RECIPE, "set": ["method.safp=none"]},
                     "mocov2": {"recipe": RECIPE, "set": ONE_PHASE},
                     "short": {"recipe": RECIPE, "set": ["warmup.epochs=10"]}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_arms_that_agree_share_one_warmup_per_seed(tmp_path):
    runs = plan_runs(load_sweep(sweep_file(tmp_path)), tmp_path / "out")
    by = {(r.arm, r.seed): r for r in runs}
    for seed in (0, 1):
        assert by["full", seed].warmup is by["no-safp", seed].warmup
        assert by["mocov2", seed].warmup is None
        assert by["short", seed].warmup.key != by["full", seed].warmup.key
    assert by["full", 0].warmup.key != by["full", 1].warmup.key
    warmup = by["full", 0].warmup
    assert warmup.dir == (tmp_path / "out" / "_warmups" / warmup.key[:16]).resolve()
    argv = warmup.step.argv
    assert argv[argv.index("--stop-after") + 1] == "50"
    assert argv[argv.index("--out") + 1] == str(warmup.dir / "pretrain")
    assert argv[argv.index("--seed") + 1] == "0" and "--resume" in argv
    assert by["short", 0].warmup.epochs == 10
    elsewhere = plan_runs(load_sweep(sweep_file(tmp_path)), tmp_path / "other", warmups=tmp_path / "shared")
    assert elsewhere[0].warmup.key == warmup.key and elsewhere[0].warmup.dir.parent == (tmp_path / "shared").resolve()


class FakeCommands:
    """``actclr-train`` stand-in: a pretraining writes a checkpoint naming its --out, and encoder.pt
    unless it stops early (--stop-after); an evaluation writes its metrics."""

    def __init__(self, fail_warmups: bool = False):
        self.calls: list = []
        self.fail_warmups = fail_warmups

    def __call__(self, argv: tuple, log: Path, env: dict) -> int:
        out = Path(argv[argv.index("--out") + 1])
        kind = "warmup" if "--stop-after" in argv else argv[0]
        self.calls.append((kind, out))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("Error: no\n" if kind == "warmup" and self.fail_warmups else "ok\n")
        if kind == "warmup" and self.fail_warmups:
            return 1
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        if argv[0] == "pretrain":
            last = out / "checkpoints" / "last.pt"
            if not last.is_file():
                last.write_text(str(out))
                (out / "metrics.jsonl").write_text(json.dumps({"epoch": 1}) + "\n")
            if kind == "pretrain":
                (out / "encoder.pt").write_bytes(b"x")
        else:
            (out / "metrics.json").write_text(json.dumps({"headline": {"kNN top-1": 50.0}}))
        return 0


def test_warmups_train_first_and_each_run_starts_from_a_copy(tmp_path):
    runs = plan_runs(load_sweep(sweep_file(tmp_path)), tmp_path / "out")
    fake = FakeCommands()
    outcomes = execute(runs, parallel=1, threads=1, runner=fake)
    assert [o.status for o in outcomes] == ["finished"] * 8
    kinds = [kind for kind, _ in fake.calls]
    assert kinds.count("warmup") == 4  # (full = no-safp, short) x 2 seeds
    for run in runs:
        pretrain = run.steps[0].out
        calls = [i for i, (_, out) in enumerate(fake.calls) if out == pretrain]
        if run.warmup is None:
            assert (pretrain / "checkpoints" / "last.pt").read_text() == str(pretrain)
            continue
        first = fake.calls.index(("warmup", run.warmup.step.out))
        assert first < calls[0]  # the warm-up trained before the run started from it
        assert (pretrain / "checkpoints" / "last.pt").read_text() == str(run.warmup.step.out)  # a copy
        assert read_rows(pretrain / "metrics.jsonl") == [{"epoch": 1}]
        assert json.loads((run.dir / "run.json").read_text())["warmup"] == str(run.warmup.dir)
        assert warmup_done(run.warmup)
    again = FakeCommands()
    assert [o.status for o in execute(runs, parallel=2, threads=1, runner=again)] == ["skipped"] * 8
    assert again.calls == []


def test_a_finished_warmup_is_reused_and_a_failed_one_fails_only_its_runs(tmp_path):
    runs = plan_runs(load_sweep(sweep_file(tmp_path)), tmp_path / "out")
    failing = FakeCommands(fail_warmups=True)
    outcomes = execute(runs, parallel=2, threads=1, runner=failing)
    assert [(o.run.arm, o.status, o.step) for o in outcomes[:4]] == [
        ("full", "failed", "warmup"), ("no-safp", "failed", "warmup"), ("mocov2", "finished", None),
        ("short", "failed", "warmup")]
    assert outcomes[0].log == runs[0].warmup.log and outcomes[0].message == "Error: no"
    assert not (runs[0].steps[0].out / "checkpoints").exists()
    retry = FakeCommands()
    assert [o.status for o in execute(runs, parallel=2, threads=1, runner=retry)] == [
        "finished", "finished", "skipped", "finished"] * 2
    # a second sweep with the same warm-up directory trains no warm-up again
    other = plan_runs(load_sweep(sweep_file(tmp_path)), tmp_path / "other", warmups=tmp_path / "out" / "_warmups")
    third = FakeCommands()
    execute(other, parallel=2, threads=1, runner=third)
    assert [kind for kind, _ in third.calls].count("warmup") == 0


#: 1 warm-up + 1 main epoch of two steps of 4 sequences with a narrow ST-GCN (tests/test_sweep_command.py).
TINY = ["data.mode=resampled", "data.samples_per_epoch=8", "data.batch_size=4", "warmup.epochs=1",
        "train.epochs=1", "monitor.every=0", "model.hidden_channels=8", "model.out_channels=64",
        "model.projector={hidden_dim: 64, out_dim: 32}"]


@pytest.mark.slow
def test_a_run_from_another_arms_warmup_equals_the_run_alone(synth_dataset, tmp_path):
    monitored = [*TINY, "monitor.every=1", "monitor.precise_bn=true", "monitor.batch_size=64"]  # the stable recipe's
    spec = {"data": str(synth_dataset), "benchmark": "xsub", "seeds": [3], "set": monitored,
            "arms": {"other": {"recipe": RECIPE, "set": ["method.safp=none"]}, "full": {"recipe": RECIPE}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    runs = plan_runs(load_sweep(tmp_path / "s.yaml"), tmp_path / "out")
    assert runs[0].warmup is runs[1].warmup  # trained with arm "other"'s configuration
    assert [o.status for o in execute(runs, parallel=1, threads=1)] == ["finished", "finished"]
    alone = tmp_path / "alone"
    argv = tuple(a if a != str(runs[1].steps[0].out) else str(alone) for a in runs[1].steps[0].argv)
    assert run_command(argv, tmp_path / "alone.log", thread_env(1)) == 0
    shared = load_checkpoint(runs[1].steps[0].out / "encoder.pt")["encoder"]
    single = load_checkpoint(alone / "encoder.pt")["encoder"]
    assert shared.keys() == single.keys() and all(torch.equal(shared[k], single[k]) for k in shared)
    losses = [[(r["epoch"], r["phase"], r["loss"], r["knn_top1@5"]) for r in read_rows(d / "metrics.jsonl")]
              for d in (runs[1].steps[0].out, alone)]
    assert losses[0] == losses[1] and [row[1] for row in losses[0]] == ["warmup", "main"]
    other = load_checkpoint(runs[0].steps[0].out / "encoder.pt")["encoder"]
    assert any(not torch.equal(other[k], shared[k]) for k in shared)  # the arms' ActCLR phases differ
