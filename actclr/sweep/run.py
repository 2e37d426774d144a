"""Running a sweep: which steps of a run are still to do, and the runs as subprocesses in parallel.

A run's steps are ``actclr-train`` commands in their own process (``python -m actclr.cli.train
...``), stdout and stderr appended to ``RUN/logs/<step>.log``, with the OpenMP/MKL/OpenBLAS thread
budget in the environment. ``RUN/run.json`` records the settings the pretraining was started with
and those each evaluation finished with:

- pretraining is done when ``pretrain/encoder.pt`` exists (written at its end); otherwise it is
  (re)started with ``--resume``, which continues from ``checkpoints/last.pt``;
- an evaluation is done when its ``metrics.json`` exists and the record holds its current
  settings (changed options redo it); every evaluation is redone after a new pretraining;
- a run whose pretraining has a checkpoint from other settings (data, benchmark, recipe,
  overrides, seed) is an error before anything runs: it would mix two configurations. One that
  failed before its first checkpoint simply starts again with the new settings.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from actclr.engine.checkpoint import last_path
from actclr.eval.outputs import now
from actclr.store.atomic import write_json
from actclr.sweep.plan import PRETRAIN, Run, Step, SweepError

RECORD = "run.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: ``runner(argv, log, env) -> exit code``: how a step's command is executed.
Runner = Callable[[tuple, Path, dict], int]


def read_record(run: Run) -> dict:
    path = run.dir / RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SweepError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(record, dict):
        raise SweepError(f"{path}: expected a JSON object")
    return record


def _first_difference(old: dict, new: dict) -> str:
    key = next(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
    return f"{key}: {old.get(key)!r} then, {new.get(key)!r} now"


def pending_steps(run: Run, record: dict) -> list:
    """The steps of ``run`` still to do, in order; raises :class:`SweepError` for a run directory
    whose pretraining was started with other settings (or not by a sweep)."""
    pretrain = run.steps[0]
    started = record.get(PRETRAIN)
    trained = last_path(pretrain.out).is_file() or pretrain.result.is_file()  # else it starts afresh
    if trained and started is None:
        raise SweepError(f"{pretrain.out}: holds a pretraining run without a sweep record ({RECORD}); "
                         "delete it or choose another --out")
    if trained and started is not None and started != pretrain.settings:
        raise SweepError(f"{run.dir}: its pretraining was started with other settings "
                         f"({_first_difference(started, pretrain.settings)}); delete the directory or "
                         "choose another --out")
    if not pretrain.result.is_file():
        return list(run.steps)
    finished = record.get("evaluations", {})
    return [s for s in run.steps[1:] if not (s.result.is_file() and finished.get(s.name) == s.settings)]


def status(run: Run, pending: list) -> str:
    """``done``, ``evaluate`` (pretrained, evaluations to do), ``resume`` (interrupted) or ``new``."""
    if not pending:
        return "done"
    if pending[0] is not run.steps[0]:
        return "evaluate"
    return "resume" if last_path(run.steps[0].out).is_file() else "new"


def thread_env(threads: int) -> dict:
    """The environment of a step's process: ``threads`` intra-op threads for torch and BLAS."""
    return {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}


def run_command(argv: tuple, log: Path, env: dict) -> int:
    """Run ``actclr-train ARGV`` in a new Python process, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"\n$ actclr-train {shlex.join(argv)}    # {now()}\n")
        f.flush()
        return subprocess.run([sys.executable, "-m", "actclr.cli.train", *argv], stdout=f,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env).returncode


def last_line(log: Path) -> str:
    """The last non-blank line of a log (usually the error), or ''."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


@dataclass
class Outcome:
    """What became of one run: ``skipped`` (already done), ``finished`` or ``failed``."""

    run: Run
    status: str
    step: str | None = None  # the step that failed
    log: Path | None = None
    returncode: int | None = None
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"arm": self.run.arm, "seed": self.run.seed, "dir": str(self.run.dir), "status": self.status,
                "step": self.step, "log": None if self.log is None else str(self.log),
                "returncode": self.returncode, "message": self.message, "seconds": round(self.seconds, 1)}


def execute_run(run: Run, env: dict, runner: Runner = run_command,
                on_step: Callable[[Run, Step, int, float], None] | None = None) -> Outcome:
    """Do the pending steps of one run in order; stop at the first that fails."""
    start = time.perf_counter()
    record = read_record(run)
    pending = pending_steps(run, record)
    if not pending:
        return Outcome(run, "skipped")
    record.update({"arm": run.arm, "seed": run.seed})
    for step in pending:
        if step.name == PRETRAIN:
            record.update({PRETRAIN: step.settings, "evaluations": {}})
            write_json(run.dir / RECORD, record)
        began = time.perf_counter()
        try:
            code, message = runner(step.argv, run.log(step), env), ""
        except OSError as err:  # the log cannot be written, the interpreter cannot start, ...
            code, message = -1, str(err)
        if on_step is not None:
            on_step(run, step, code, time.perf_counter() - began)
        if code != 0:
            return Outcome(run, "failed", step.name, run.log(step), code, message or last_line(run.log(step)),
                           time.perf_counter() - start)
        if step.name != PRETRAIN:
            record.setdefault("evaluations", {})[step.name] = step.settings
            write_json(run.dir / RECORD, record)
    return Outcome(run, "finished", seconds=time.perf_counter() - start)


def execute(runs: list, parallel: int, threads: int, runner: Runner = run_command,
            on_step: Callable[[Run, Step, int, float], None] | None = None) -> list:
    """Every run, ``parallel`` at a time (in the order given); the outcomes in that order.

    On an interrupt (Ctrl-C, which also reaches the running commands) no further run starts."""
    env = thread_env(threads)
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = [pool.submit(execute_run, run, env, runner, on_step) for run in runs]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
