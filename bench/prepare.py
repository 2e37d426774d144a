"""Benchmark: ``prepare`` throughput with 1 vs N workers, and peak memory for a small vs a larger input.

Each measurement runs ``prepare_dataset`` in a fresh Python process (``--child`` mode of this
script), which reports its wall time and the peak RSS of that (main) process; pool workers hold
one chunk at a time by construction. The
inputs are synthetic NTU60 trees (``actclr.synth``): ``--per-class`` files per class for the
small tree and ``--scale`` times as many for the large one. The baseline is 1 worker (throughput)
and the small tree (memory): peak RSS must not grow with the number of samples.

    python bench/prepare.py [--per-class 4] [--scale 4] [--workers 2] [--repeats 2]
"""
from __future__ import annotations

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


def _child(raw: str, out: str, workers: int) -> None:
    """Run one prepare and print JSON: seconds, files, samples, peak RSS (MiB) of self and workers."""
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset

    start = time.perf_counter()
    result = prepare_dataset(PrepareOptions(dataset="ntu60", raw=(raw,), out=Path(out), workers=workers))
    seconds = time.perf_counter() - start
    kib = 1024 if sys.platform != "darwin" else 1024 * 1024
    print(json.dumps({"seconds": seconds, "files": result.info["source"]["files"],
                      "samples": result.info["num_samples"],
                      "main_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib}))


def _measure(raw: Path, out: Path, workers: int, repeats: int) -> dict:
    """The fastest of ``repeats`` fresh-process runs (the machine may be shared); peak RSS of all."""
    runs = []
    for i in range(repeats):
        done = subprocess.run([sys.executable, __file__, "--child", str(raw), str(out / str(i)), str(workers)],
                              check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "main_rss_mib": max(r["main_rss_mib"] for r in runs), "all_seconds": [r["seconds"] for r in runs]}


@click.command()
@click.option("--per-class", default=4, show_default=True, help="Synthetic files per class (small tree, 60 classes).")
@click.option("--scale", default=4, show_default=True, help="Size of the large tree relative to the small one.")
@click.option("--workers", default=2, show_default=True, help="Workers compared with 1.")
@click.option("--repeats", default=2, show_default=True, help="Runs per measurement (the fastest is kept).")
@click.option("--child", nargs=3, default=None, hidden=True)
def main(per_class: int, scale: int, workers: int, repeats: int, child) -> None:
    if child:
        return _child(child[0], child[1], int(child[2]))
    from actclr.synth import generate

    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with console.status("generating synthetic raw trees ..."):
            generate(tmp / "small", "ntu60", per_class=per_class, seed=0)
            generate(tmp / "large", "ntu60", per_class=per_class * scale, seed=0)
        runs = {}
        for name, raw, n in (("small, 1 worker", "small", 1), (f"small, {workers} workers", "small", workers),
                             ("large, 1 worker", "large", 1)):
            with console.status(f"prepare: {name} ..."):
                runs[name] = _measure(tmp / raw, tmp / f"out-{raw}-{n}", n, repeats)
    base, par, large = runs.values()
    table = Table(title="actclr-data prepare (synthetic NTU60, stgcn50)")
    for column in ("run", "raw files", "samples", "seconds (best)", "files/s", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, r in runs.items():
        table.add_row(name, str(r["files"]), str(r["samples"]), f"{r['seconds']:.2f}",
                      f"{r['files'] / r['seconds']:.1f}", f"{r['main_rss_mib']:.0f}")
    console.print(table)
    summary = {"speedup_workers": base["seconds"] / par["seconds"],
               "rss_ratio_large_vs_small": large["main_rss_mib"] / base["main_rss_mib"],
               "samples_ratio_large_vs_small": large["samples"] / base["samples"]}
    console.print(f"speed-up with {workers} workers: {summary['speedup_workers']:.2f}x; peak RSS large/small: "
                  f"{summary['rss_ratio_large_vs_small']:.2f} for {summary['samples_ratio_large_vs_small']:.1f}x "
                  f"the samples (os.cpu_count()={os.cpu_count()})")
    write_json(RESULTS, {"runs": runs, "summary": summary, "workers": workers,
                         "python": platform.python_version(), "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
