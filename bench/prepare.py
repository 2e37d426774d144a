"""Benchmark: where ``actclr-data prepare`` spends its CPU, how it scales, and its memory.

Two synthetic NTU60 trees (``actclr.synth``, files of NTU size): ``--per-class`` files per class
(the large tree, 60 classes) and ``--small-per-class`` (the small one). Every measurement runs in
a fresh Python process (``--child`` mode of this script), so imports are paid as a user pays them:

- ``prepare`` on the large tree with 1 and ``--workers`` workers, and on the small tree with both
  (peak RSS of the main process at two sizes: it must stay flat);
- a line-by-line reader that calls ``float()`` per value (``bench/parse.py``'s ``line_reader``,
  what the community scripts do) over the large tree's files: parse only, no output.

CPU time is split into the main process's (its own ``getrusage``, imports included) and the
workers' (every descendant's CPU, collected by making this script a Linux child subreaper, minus
the main process's). CPU per sample does not depend on what else runs on the machine, unlike wall
time: it is the primary number, with the load average printed beside every run. The NTU120
projection on ``c`` cores uses the measured per-sample costs: the main process's work ``m`` is
serial, the workers' ``w`` is shared by ``c`` cores, and the two overlap, so
``T(c) ~ f + N * max(m, w / c)`` (``f + N * (m + w / c)`` if they did not overlap), with ``m`` and
``w`` the marginal costs (the slope of CPU time between the two tree sizes) and ``f`` the fixed
start-up (imports, process start; the intercept).

    python bench/prepare.py [--per-class 25] [--small-per-class 6] [--workers 2] [--repeats 1]
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from actclr.store.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "prepare.json"
#: Samples of NTU RGB+D 120 (114,480 files minus the 535 on the official missing list).
NTU120_SAMPLES = 113945
PROJECTION_CORES = (16, 64)
_PR_SET_CHILD_SUBREAPER = 36


def _cpu_seconds(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def _child_prepare(raw: str, out: str, workers: int) -> dict:
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset

    start = time.perf_counter()
    result = prepare_dataset(PrepareOptions(dataset="ntu60", raw=(raw,), out=Path(out), workers=workers))
    return {"seconds": time.perf_counter() - start, "files": result.info["source"]["files"],
            "samples": result.info["num_samples"], "modules": sorted({m.split(".")[0] for m in sys.modules})}


def _child_reader(raw: str) -> dict:
    """Parse every ``.skeleton`` file under ``raw`` with the line-by-line ``float()`` reader."""
    from parse import line_reader  # bench/parse.py, on sys.path as this script's folder

    files = sorted(Path(raw).rglob("*.skeleton"))
    start = time.perf_counter()
    samples = sum(1 for path in files if len(line_reader(path.read_bytes())[0]))
    return {"seconds": time.perf_counter() - start, "files": len(files), "samples": samples, "modules": []}


def _child(mode: str, args: list) -> None:
    """Run one measurement and print JSON with its wall time and this process's CPU and peak RSS."""
    report = _child_prepare(args[0], args[1], int(args[2])) if mode == "prepare" else _child_reader(args[0])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kib = 1024 if sys.platform != "darwin" else 1024 * 1024
    print(json.dumps({**report, "main_cpu_s": _cpu_seconds(usage), "main_rss_mib": usage.ru_maxrss / kib}))


def _become_subreaper() -> bool:
    """Adopt orphaned descendants (the pool's fork server outlives the prepare process), so that
    ``RUSAGE_CHILDREN`` counts the workers' CPU. Linux only; elsewhere worker CPU is not measured."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap_orphans(timeout: float = 30.0) -> None:
    """Wait for adopted descendants to exit (the fork server leaves once its parent is gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _run(args: list, subreaper: bool) -> dict:
    """One fresh-process measurement, with the CPU of all its descendants and the load around it."""
    before = _cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    if subreaper:
        _reap_orphans()
    total = _cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - before
    run = json.loads(done.stdout.strip().splitlines()[-1])
    run["worker_cpu_s"] = max(0.0, total - run["main_cpu_s"]) if subreaper else None
    run["load_before"], run["load_after"] = load, os.getloadavg()[0]
    return run


def _measure(args: list, repeats: int, subreaper: bool) -> dict:
    """The fastest of ``repeats`` runs (wall time; its CPU numbers); peak RSS of all."""
    runs = [_run([*args[:-2], f"{args[-2]}-{i}", args[-1]] if args[0] == "prepare" else args, subreaper)
            for i in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "main_rss_mib": max(r["main_rss_mib"] for r in runs), "all_seconds": [r["seconds"] for r in runs]}


def _ms(seconds: float | None, samples: int) -> str:
    return "n/a" if seconds is None else f"{1000 * seconds / samples:.2f}"


def _costs(small: dict, large: dict, key: str) -> tuple[float, float] | None:
    """``(marginal ms per sample, fixed seconds)`` of CPU ``key`` from the two tree sizes: the slope
    and intercept of CPU time against samples (imports and process start-up are the fixed part)."""
    if small[key] is None or large[key] is None:
        return None
    slope = (large[key] - small[key]) / (large["samples"] - small["samples"])
    return 1000 * slope, small[key] - slope * small["samples"]


def _summary(runs: dict, workers: int) -> dict:
    one, many = runs["large, 1 worker"], runs[f"large, {workers} workers"]
    reader, small = runs["line-by-line float() reader"], runs[f"small, {workers} workers"]
    main, work = _costs(small, many, "main_cpu_s"), _costs(small, many, "worker_cpu_s")
    projection = {}
    if work is not None:
        (m, main_fixed), (w, work_fixed) = main, work
        fixed = main_fixed + work_fixed / workers       # the workers start in parallel
        for cores in PROJECTION_CORES:
            projection[cores] = {"overlapped_s": fixed + NTU120_SAMPLES * max(m, w / cores) / 1000,
                                 "serial_plus_parallel_s": fixed + NTU120_SAMPLES * (m + w / cores) / 1000}
    return {
        "main_cpu_ms_per_sample": 1000 * many["main_cpu_s"] / many["samples"],
        "worker_cpu_ms_per_sample": None if many["worker_cpu_s"] is None else
        1000 * many["worker_cpu_s"] / many["samples"],
        "main_marginal_ms_per_sample": main[0], "main_fixed_s": main[1],
        "worker_marginal_ms_per_sample": None if work is None else work[0],
        "worker_fixed_s": None if work is None else work[1],
        "one_worker_cpu_ms_per_sample": 1000 * one["main_cpu_s"] / one["samples"],
        "one_worker_marginal_ms_per_sample": _costs(runs["small, 1 worker"], one, "main_cpu_s")[0],
        "speedup_workers_wall": one["seconds"] / many["seconds"],
        "line_reader_vs_one_worker_wall": reader["seconds"] / one["seconds"],
        "line_reader_vs_one_worker_cpu": reader["main_cpu_s"] / one["main_cpu_s"],
        "rss_ratio_large_vs_small": many["main_rss_mib"] / small["main_rss_mib"],
        "samples_ratio_large_vs_small": many["samples"] / small["samples"],
        "imports_torch": "torch" in many["modules"],
        "ntu120_samples": NTU120_SAMPLES, "projection": projection,
    }


def _print(console: Console, runs: dict, summary: dict, workers: int, megabytes: float) -> None:
    table = Table(title=f"actclr-data prepare (synthetic NTU60, stgcn50, {megabytes:.0f} MB of raw files)")
    for column in ("run", "files", "samples", "wall s", "files/s", "main CPU ms/sample", "worker CPU ms/sample",
                   "main peak RSS MiB", "load avg"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, r in runs.items():
        table.add_row(name, str(r["files"]), str(r["samples"]), f"{r['seconds']:.2f}",
                      f"{r['files'] / r['seconds']:.1f}", _ms(r["main_cpu_s"], r["samples"]),
                      _ms(r["worker_cpu_s"], r["samples"]) if r["modules"] else "-",
                      f"{r['main_rss_mib']:.0f}", f"{r['load_before']:.2f}/{r['load_after']:.2f}")
    console.print(table)
    s = summary
    na = "n/a"
    console.print(f"CPU per sample, all in (large tree): main process {s['main_cpu_ms_per_sample']:.2f} ms, workers "
                  f"{na if s['worker_cpu_ms_per_sample'] is None else format(s['worker_cpu_ms_per_sample'], '.2f')}"
                  f" ms ({workers} workers); 1 worker: {s['one_worker_cpu_ms_per_sample']:.2f} ms")
    console.print(f"marginal CPU per sample (slope between the two sizes; start-up excluded): main process "
                  f"{s['main_marginal_ms_per_sample']:.2f} ms (+ {s['main_fixed_s']:.1f} s fixed), workers "
                  + (na if s["worker_marginal_ms_per_sample"] is None else
                     f"{s['worker_marginal_ms_per_sample']:.2f} ms (+ {s['worker_fixed_s']:.1f} s fixed)")
                  + f"; 1 worker: {s['one_worker_marginal_ms_per_sample']:.2f} ms")
    console.print(f"wall speed-up with {workers} workers: {s['speedup_workers_wall']:.2f}x; 1 worker end to end vs "
                  f"the line-by-line float() reader (parse only): {s['line_reader_vs_one_worker_wall']:.2f}x wall, "
                  f"{s['line_reader_vs_one_worker_cpu']:.2f}x CPU")
    console.print(f"main peak RSS large/small: {s['rss_ratio_large_vs_small']:.2f} for "
                  f"{s['samples_ratio_large_vs_small']:.1f}x the samples; torch imported: {s['imports_torch']}")
    if s["projection"]:
        m, w = s["main_marginal_ms_per_sample"], s["worker_marginal_ms_per_sample"]
        fixed = s["main_fixed_s"] + s["worker_fixed_s"] / workers
        console.print(f"NTU120 projection, T(c) = f + N * max(m, w / c) with N = {NTU120_SAMPLES}, m = {m:.2f} ms, "
                      f"w = {w:.2f} ms (marginal), f = {fixed:.1f} s  [f + N * (m + w / c) if nothing overlapped]:",
                      markup=False)
        for cores, p in s["projection"].items():
            console.print(f"  {cores:>3} cores: {p['overlapped_s'] / 60:.1f} min  "
                          f"[{p['serial_plus_parallel_s'] / 60:.1f} min]", markup=False)


@click.command()
@click.option("--per-class", default=25, show_default=True, help="Files per class of the large tree (60 classes).")
@click.option("--small-per-class", default=6, show_default=True, help="Files per class of the small tree.")
@click.option("--workers", default=2, show_default=True, help="Workers compared with 1.")
@click.option("--repeats", default=1, show_default=True, help="Runs per measurement (the fastest is kept).")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--child", is_flag=True, hidden=True)
@click.argument("child_args", nargs=-1, type=click.UNPROCESSED)
def main(per_class: int, small_per_class: int, workers: int, repeats: int, out: Path, child, child_args) -> None:
    if child:
        return _child(child_args[0], list(child_args[1:]))
    from actclr.synth import generate

    console = Console(width=140)
    subreaper = _become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with console.status("generating synthetic raw trees ..."):
            generate(tmp / "large", "ntu60", per_class=per_class, seed=0)
            generate(tmp / "small", "ntu60", per_class=small_per_class, seed=1)
        files = list((tmp / "large").rglob("*.skeleton"))
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        plan = {"large, 1 worker": ("large", 1), f"large, {workers} workers": ("large", workers),
                "small, 1 worker": ("small", 1), f"small, {workers} workers": ("small", workers)}
        runs = {}
        for name, (tree, n) in plan.items():
            with console.status(f"prepare: {name} ..."):
                runs[name] = _measure(["prepare", str(tmp / tree), str(tmp / f"out-{tree}-{n}"), str(n)], repeats,
                                      subreaper)
        with console.status("line-by-line float() reader ..."):
            runs["line-by-line float() reader"] = _measure(["reader", str(tmp / "large")], repeats, subreaper)
    summary = _summary(runs, workers)
    _print(console, runs, summary, workers, megabytes)
    write_json(out, {"runs": runs, "summary": summary, "workers": workers, "raw_megabytes": megabytes,
                     "mean_file_kb": 1000 * megabytes / len(files), "python": platform.python_version(),
                     "cpus": os.cpu_count(), "worker_cpu_measured": subreaper})


if __name__ == "__main__":
    main()
