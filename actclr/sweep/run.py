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
  failed before its first checkpoint simply starts again with the new settings;
- a shared warm-up (``Run.warmup``) is done when ``WARMUP_DIR/warmup.json`` names its key; it is
  trained (or resumed) before the first run that starts from it, and a run starts by copying its
  ``checkpoints/last.pt`` and epoch rows into its own pretraining directory. Runs that do not
  wait for a warm-up start while one trains.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from actclr.engine.checkpoint import last_path
from actclr.eval.outputs import now
from actclr.store.atomic import write_bytes, write_json
from actclr.sweep.plan import PRETRAIN, Run, Step, SweepError, Warmup

RECORD = "run.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Files of a warm-up's pretraining directory a run starts from (the checkpoint last: it marks the start).
WARMUP_FILES = ("metrics.jsonl", "metrics.csv", "checkpoints/last.pt")
#: ``runner(argv, log, env) -> exit code``: how a step's command is executed.
Runner = Callable[[tuple, Path, dict], int]
#: ``on_step(label, step, exit code, seconds, log)``: called after each command.
StepHook = Callable[[str, Step, int, float, Path], None]


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


def waits_for_warmup(run: Run, pending: list) -> bool:
    """Whether the run's pretraining is still to start from its shared warm-up."""
    return (run.warmup is not None and bool(pending) and pending[0] is run.steps[0]
            and not last_path(run.steps[0].out).is_file())


def warmup_done(warmup: Warmup) -> bool:
    """The warm-up's record (written once its pretraining stopped after its last epoch) names its key."""
    try:
        record = json.loads(warmup.step.result.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("key") == warmup.key


def start_from_warmup(run: Run) -> None:
    """Copy the shared warm-up's checkpoint and epoch rows into the run's pretraining directory."""
    assert run.warmup is not None
    for name in WARMUP_FILES:
        source = run.warmup.step.out / name
        if source.is_file():
            write_bytes(run.steps[0].out / name, source.read_bytes())


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


def run_step(step: Step, label: str, log: Path, env: dict, runner: Runner,
             on_step: StepHook | None) -> tuple[int, str]:
    """Run one step's command: its exit code, and its error ('' if it succeeded)."""
    began = time.perf_counter()
    try:
        code, message = runner(step.argv, log, env), ""
    except OSError as err:  # the log cannot be written, the interpreter cannot start, ...
        code, message = -1, str(err)
    if on_step is not None:
        on_step(label, step, code, time.perf_counter() - began, log)
    return code, (message or last_line(log)) if code else ""


def train_warmup(warmup: Warmup, env: dict, runner: Runner = run_command,
                 on_step: StepHook | None = None) -> tuple[int, str]:
    """Train (or resume) a shared warm-up unless it is done: exit code and error."""
    if warmup_done(warmup):
        return 0, ""
    code, message = run_step(warmup.step, warmup.label, warmup.log, env, runner, on_step)
    if code == 0:
        write_json(warmup.step.result, {**warmup.step.settings, "finished": now()})
    return code, message


def execute_run(run: Run, env: dict, runner: Runner = run_command, on_step: StepHook | None = None) -> Outcome:
    """Do the pending steps of one run in order (its shared warm-up must be done); stop at the
    first that fails."""
    start = time.perf_counter()
    record = read_record(run)
    pending = pending_steps(run, record)
    if not pending:
        return Outcome(run, "skipped")
    record.update({"arm": run.arm, "seed": run.seed})
    for step in pending:
        if step.name == PRETRAIN:
            record.update({PRETRAIN: step.settings, "evaluations": {}})
            if waits_for_warmup(run, pending):
                assert run.warmup is not None
                record["warmup"] = str(run.warmup.dir)
                start_from_warmup(run)
            write_json(run.dir / RECORD, record)
        code, message = run_step(step, run.label, run.log(step), env, runner, on_step)
        if code != 0:
            return Outcome(run, "failed", step.name, run.log(step), code, message, time.perf_counter() - start)
        if step.name != PRETRAIN:
            record.setdefault("evaluations", {})[step.name] = step.settings
            write_json(run.dir / RECORD, record)
    return Outcome(run, "finished", seconds=time.perf_counter() - start)


def _jobs(runs: list) -> list:
    """The runs in order, each shared warm-up still to train placed before its first run."""
    jobs: list = []
    for run in runs:
        warmup = run.warmup
        if waits_for_warmup(run, pending_steps(run, read_record(run))) and warmup not in jobs:
            jobs.append(warmup)
        jobs.append(run)
    return jobs


def execute(runs: list, parallel: int, threads: int, runner: Runner = run_command,
            on_step: StepHook | None = None) -> list:
    """Every run, ``parallel`` jobs at a time in the order given (a shared warm-up before the runs
    that start from it; a run whose warm-up is training waits, later ones go first); the outcomes
    in the runs' order. A failed warm-up fails its runs.

    On an interrupt (Ctrl-C, which also reaches the running commands) no further job starts."""
    env = thread_env(threads)
    queue = _jobs(runs)
    results: dict = {}  # warm-up key -> (exit code, error) once it has finished
    running: dict = {}  # future -> job
    outcomes: dict = {}  # id(run) -> Outcome
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        while queue or running:
            for job in list(queue):
                if len(running) >= parallel:
                    break
                if isinstance(job, Warmup):
                    future: Future = pool.submit(train_warmup, job, env, runner, on_step)
                elif job.warmup is not None and (job.warmup in queue or job.warmup in running.values()):
                    continue  # its warm-up is still to train
                elif job.warmup is not None and results.get(job.warmup.key, (0, ""))[0] != 0:
                    code, message = results[job.warmup.key]
                    outcomes[id(job)] = Outcome(job, "failed", "warmup", job.warmup.log, code, message)
                    queue.remove(job)
                    continue
                else:
                    future = pool.submit(execute_run, job, env, runner, on_step)
                queue.remove(job)
                running[future] = job
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                if isinstance(job, Warmup):
                    results[job.key] = future.result()
                else:
                    outcomes[id(job)] = future.result()
        return [outcomes[id(run)] for run in runs]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
