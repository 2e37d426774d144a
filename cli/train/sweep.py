"""``actclr-train sweep``: arms x seeds of pretraining + evaluations, in parallel, resumable, one table."""
from __future__ import annotations

import os
from pathlib import Path

import click


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _check_arguments(runs: list, sweep_file: Path) -> None:
    """Parse every distinct command as ``actclr-train`` would (options, types, choices), running nothing."""
    from actclr.cli.train import cli

    seed = runs[0].seed
    for run in (r for r in runs if r.seed == seed):
        for step in run.steps:
            command = cli.get_command(click.Context(cli), step.argv[0])
            assert command is not None, step.argv[0]  # the plan only uses actclr-train's own commands
            try:
                command.make_context(step.argv[0], list(step.argv[1:]))
            except click.ClickException as err:
                raise click.UsageError(f"{sweep_file}: {run.arm}, {step.name}: {err.format_message()}") from None


def _check_data(data: str, benchmark: str | None) -> None:
    """The dataset opens and has the benchmark (one clear error instead of one per run)."""
    from actclr.store import open_dataset

    try:
        dataset = open_dataset(data)
    except (FileNotFoundError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    if benchmark is not None and benchmark not in dataset.benchmarks:
        raise click.UsageError(f"{data}: no benchmark {benchmark!r} (has {', '.join(dataset.benchmarks)})")


@click.command("sweep")
@click.argument("sweep_file")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory: OUT/<arm>/seed-<seed>/ per run, OUT/sweep.md, sweep.json, sweep.png.")
@click.option("--data", help="Prepared dataset (directory or URL); overrides the sweep file's 'data'.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at the same time (each in its own processes).")
@click.option("--threads-per-run", type=click.IntRange(min=1),
              help="OMP/MKL/OpenBLAS threads of each run's processes [default: CPUs // --parallel, at least 1].")
@click.option("--warmups", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the shared warm-ups (runs that agree on their warm-up phase train it "
                   "once); give several sweeps on the same data one [default: OUT/_warmups].")
@click.option("--dry-run", is_flag=True, help="List the runs and what is left to do in each; run nothing.")
@click.option("--title", help="Title of the summary [default: sweep <file name>].")
def sweep(sweep_file: str, out: Path, data: str | None, parallel: int, threads_per_run: int | None,
          warmups: Path | None, dry_run: bool, title: str | None) -> None:
    """Run the SWEEP_FILE (a YAML path or the name of a shipped sweep in configs/sweeps/, see
    docs/sweeps.md): for every seed and arm, `actclr-train pretrain` then each evaluation, each in
    its own process. Finished steps are kept and skipped on a re-run, an interrupted pretraining
    resumes, a failed run does not stop the others (the exit code is 1 if any failed). Then
    OUT/sweep.md and sweep.json (mean, sample std and every seed per arm and metric), sweep.png
    (one point per seed) and training_curves.png.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from actclr.eval.outputs import rich_table
    from actclr.store.atomic import write_bytes
    from actclr.sweep.plan import SweepError, check_configs, load_sweep, plan_runs
    from actclr.sweep.run import execute, pending_steps, read_record, status, warmup_done
    from actclr.sweep.summary import collect, failure_lines, paired, table, write_summary

    console = Console()
    try:
        spec = load_sweep(sweep_file)
        check_configs(spec)
        runs = plan_runs(spec, out, data, warmups)
        states = [status(run, pending_steps(run, read_record(run))) for run in runs]
    except SweepError as err:
        raise click.UsageError(str(err)) from None
    _check_arguments(runs, spec.path)
    _check_data(runs[0].steps[0].settings["data"], spec.benchmark)
    threads = threads_per_run or max(1, _cpus() // parallel)
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("done", "evaluate", "resume", "new") if s in states)
    console.print(f"sweep {spec.path}: {_count(len(runs), 'run')} ({_count(len(spec.arms), 'arm')} x "
                  f"{_count(len(spec.seeds), 'seed')}), "
                  f"evaluations {', '.join(e.name for e in spec.evaluations) or 'none'}; {counts}; "
                  f"{parallel} at a time, {threads} thread(s) each", soft_wrap=True)
    warm = {run.warmup.key: run.warmup for run in runs if run.warmup is not None}
    if warm:
        users = sum(run.warmup is not None for run in runs)
        console.print(f"{_count(len(warm), 'warm-up')} for {_count(users, 'run')} "
                      f"({sum(not warmup_done(w) for w in warm.values())} to train) in "
                      f"{next(iter(warm.values())).dir.parent}", soft_wrap=True)
    if dry_run:
        listing = Table("arm", "seed", "state", "warm-up", "directory")
        for run, state in zip(runs, states):
            listing.add_row(run.arm, str(run.seed), state, run.warmup.key[:16] if run.warmup else "-", str(run.dir))
        console.print(listing)
        return
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / "sweep.yaml", spec.path.read_bytes())  # the file as it was run

    def on_step(label, step, code, seconds, log):
        result = "done" if code == 0 else f"FAILED (exit {code}), log {log}"
        console.print(Text(f"{label}: {step.name} {result} ({seconds:.0f} s)", style="red" if code else ""),
                      soft_wrap=True)

    outcomes = execute(runs, parallel, threads, on_step=on_step)  # runs already done are skipped
    rows = collect(runs)
    title = title or f"sweep {spec.path.stem}"
    written = write_summary(out, rows, spec.seeds, runs, outcomes, title, spec.path, spec.reference)
    if rows:
        console.print(rich_table(table(rows, spec.seeds), title=title, labels=("arm", "metric")))
    differences = paired(rows, spec.reference) if spec.reference is not None else []
    if differences:
        console.print(rich_table(table(differences, spec.seeds), title=f"minus {spec.reference}, seed by seed",
                                 labels=("arm", "metric")))
    failures = failure_lines(outcomes)
    for line in failures:
        console.print(Text(line, style="red"), soft_wrap=True)
    console.print("wrote " + ", ".join(map(str, written)), soft_wrap=True)
    if failures:
        raise click.exceptions.Exit(1)
