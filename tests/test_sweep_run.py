"""Running a sweep: what is skipped, resumed or redone, failures, the thread budget (fake steps;
the real commands run in tests/test_sweep_command.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from actclr.sweep.plan import SweepError, load_sweep, plan_runs
from actclr.sweep.run import (
    RECORD,
    execute,
    execute_run,
    last_line,
    pending_steps,
    read_record,
    run_command,
    status,
    thread_env,
)

RECIPE = "actclr_synth-xsub_joint_1xcpu_demo"


def sweep_file(tmp_path: Path, knn_k=(1, 5), arm_set=("optim.lr=0.01",)) -> Path:
    spec = {"data": str(tmp_path / "data"), "seeds": [0, 1],
            "evaluations": {"linear": {"epochs": 2}, "knn": {"k": list(knn_k), "primary-k": knn_k[-1]}},
            "arms": {"a": {"recipe": RECIPE, "set": list(arm_set)}, "b": {"recipe": RECIPE}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def runs_of(tmp_path: Path, **kw) -> list:
    return plan_runs(load_sweep(sweep_file(tmp_path, **kw)), tmp_path / "out")


class FakeCommands:
    """Stands in for ``actclr-train``: records the calls and writes what the command would finish with."""

    def __init__(self, fail: tuple = ()):
        self.calls, self.fail = [], fail  # fail: (command, --out suffix) pairs that exit 1

    def __call__(self, argv: tuple, log: Path, env: dict) -> int:
        out = Path(argv[argv.index("--out") + 1])
        self.calls.append((argv[0], out))
        log.parent.mkdir(parents=True, exist_ok=True)
        if any(argv[0] == c and str(out).endswith(s) for c, s in self.fail):
            log.write_text("starting\nError: something went wrong\n\n")
            return 1
        out.mkdir(parents=True, exist_ok=True)
        if argv[0] == "pretrain":
            (out / "checkpoints").mkdir(exist_ok=True)
            (out / "checkpoints" / "last.pt").write_bytes(b"x")
            (out / "encoder.pt").write_bytes(b"x")
        else:
            (out / "metrics.json").write_text(json.dumps({"headline": {f"{argv[0]} top-1": 50.0}}))
        return 0


def test_a_new_run_runs_every_step_in_order_then_is_skipped(tmp_path):
    run = runs_of(tmp_path)[0]
    assert status(run, pending_steps(run, read_record(run))) == "new"
    fake = FakeCommands()
    outcome = execute_run(run, {}, fake)
    assert outcome.status == "finished"
    assert fake.calls == [(s.argv[0], s.out) for s in run.steps]
    record = json.loads((run.dir / RECORD).read_text())
    assert record["pretrain"] == run.steps[0].settings and set(record["evaluations"]) == {"linear", "knn"}
    assert pending_steps(run, record) == [] and status(run, []) == "done"
    again = FakeCommands()
    assert execute_run(run, {}, again).status == "skipped" and again.calls == []


def test_an_interrupted_pretraining_resumes_and_every_evaluation_follows(tmp_path):
    run = runs_of(tmp_path)[0]
    execute_run(run, {}, FakeCommands())
    (run.steps[0].out / "encoder.pt").unlink()  # interrupted before the end: only last.pt
    pending = pending_steps(run, read_record(run))
    assert pending == list(run.steps) and status(run, pending) == "resume"
    assert "--resume" in run.steps[0].argv
    fake = FakeCommands()
    execute_run(run, {}, fake)
    assert [c for c, _ in fake.calls] == ["pretrain", "linear", "knn"]


def test_only_missing_or_changed_evaluations_are_redone(tmp_path):
    run = runs_of(tmp_path)[0]
    execute_run(run, {}, FakeCommands())
    (run.steps[1].out / "metrics.json").unlink()
    assert status(run, pending_steps(run, read_record(run))) == "evaluate"
    fake = FakeCommands()
    execute_run(run, {}, fake)
    assert fake.calls == [("linear", run.steps[1].out)]

    changed = runs_of(tmp_path, knn_k=(1, 10))[0]  # the knn options changed in the sweep file
    assert pending_steps(changed, read_record(changed)) == [changed.steps[2]]


def test_a_run_started_with_other_pretraining_settings_is_an_error(tmp_path):
    execute_run(runs_of(tmp_path)[0], {}, FakeCommands())
    changed = runs_of(tmp_path, arm_set=("optim.lr=0.02",))[0]
    with pytest.raises(SweepError, match=r"seed-0: its pretraining was started with other settings \(set: "):
        pending_steps(changed, read_record(changed))


def test_a_pretraining_that_failed_before_its_first_checkpoint_may_change(tmp_path):
    execute_run(runs_of(tmp_path)[0], {}, FakeCommands(fail=(("pretrain", "a/seed-0/pretrain"),)))
    changed = runs_of(tmp_path, arm_set=("optim.lr=0.02",))[0]
    assert status(changed, pending_steps(changed, read_record(changed))) == "new"
    assert execute_run(changed, {}, FakeCommands()).status == "finished"
    assert read_record(changed)["pretrain"]["set"] == ["optim.lr=0.02"]


def test_a_pretraining_run_not_made_by_a_sweep_is_an_error(tmp_path):
    run = runs_of(tmp_path)[0]
    (run.steps[0].out / "checkpoints").mkdir(parents=True)
    (run.steps[0].out / "checkpoints" / "last.pt").write_bytes(b"x")
    with pytest.raises(SweepError, match="without a sweep record"):
        pending_steps(run, read_record(run))


def test_a_failed_run_is_reported_with_its_log_and_the_others_go_on(tmp_path):
    runs = runs_of(tmp_path)
    fake = FakeCommands(fail=(("pretrain", "b/seed-0/pretrain"), ("knn", "a/seed-1/eval/knn")))
    outcomes = execute(runs, parallel=2, threads=1, runner=fake)
    assert [(o.run.arm, o.run.seed, o.status, o.step) for o in outcomes] == [
        ("a", 0, "finished", None), ("b", 0, "failed", "pretrain"),
        ("a", 1, "failed", "knn"), ("b", 1, "finished", None)]
    failed = outcomes[1]
    assert failed.log == runs[1].dir / "logs" / "pretrain.log" and failed.returncode == 1
    assert failed.message == "Error: something went wrong"
    assert not any(out == runs[1].dir / "eval" / "linear" for _, out in fake.calls)  # no evaluation after it
    retry = FakeCommands()
    outcomes = execute(runs, parallel=1, threads=1, runner=retry)  # a re-run retries only what failed
    assert [o.status for o in outcomes] == ["skipped", "finished", "finished", "skipped"]
    assert [c for c, _ in retry.calls] == ["pretrain", "linear", "knn", "knn"]


def test_thread_budget_and_real_subprocess_failure(tmp_path):
    env = thread_env(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "3"
    log = tmp_path / "logs" / "pretrain.log"
    log.parent.mkdir()
    log.write_text("earlier attempt\n")
    code = run_command(("pretrain", "--no-such-option"), log, env)
    lines = log.read_text().splitlines()
    assert code == 2 and lines[:2] == ["earlier attempt", ""]  # appended to, not replaced
    assert lines[2].startswith("$ actclr-train pretrain --no-such-option    # ")
    assert last_line(log).startswith("Error: No such option '--no-such-option'.")
