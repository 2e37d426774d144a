"""Benchmark: ``parse_ntu`` (whole-file tokenising + one bulk conversion) vs a plain line-by-line
reader that calls ``float()`` once per token, as the community scripts do.

Both readers run in this process, one core (pyarrow's pool limited to 1 thread), on the same
files: synthetic files from ``actclr.synth`` (generated into a temporary folder) and the real
fixtures. Each reader's result is checked against the other before timing.

    python bench/parse.py [--files 300] [--repeats 3]

The script is a list of sections (``SECTIONS``), each producing one table and one JSON entry,
so further measurements (e.g. ``prepare`` timings) can be appended as new sections.
"""
from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from actclr.pipelines.ntu import parse_ntu
from actclr.store.atomic import write_json
from actclr.synth import generate

RESULTS = Path(__file__).resolve().parent / "results" / "parse.json"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ntu"


def line_reader(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: read line by line, ``float()`` every joint value, keep x, y, z.

    Returns ``xyz (T, S, 25, 3)`` float32 and ``body_ids (T, S)`` uint64 like ``parse_ntu``.
    """
    lines = iter(data.decode("ascii").splitlines())
    frames = []
    for _ in range(int(next(lines))):
        bodies = []
        for _ in range(int(next(lines))):
            body_id = int(next(lines).split()[0])
            joints = []
            for _ in range(int(next(lines))):
                values = [float(v) for v in next(lines).split()]
                joints.append(values[:3])
            bodies.append((body_id, joints))
        frames.append(bodies)
    slots = max((len(b) for b in frames), default=0)
    xyz = np.zeros((len(frames), slots, 25, 3), np.float32)
    ids = np.zeros((len(frames), slots), np.uint64)
    for t, bodies in enumerate(frames):
        for s, (body_id, joints) in enumerate(bodies):
            xyz[t, s] = joints
            ids[t, s] = body_id
    return xyz, ids


def fast_reader(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    raw = parse_ntu(data, name)
    return raw.xyz, raw.body_ids


def best_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best time of each function over ``repeats`` rounds; every round runs all of them in turn,
    so load from other processes hits both sides alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def parse_section(file_sets: dict, repeats: int) -> dict:
    """Files/s and frames/s of both readers on each file set (same files, same process)."""
    rows = []
    for label, files in file_sets.items():
        blobs = [(path.name, path.read_bytes()) for path in files]
        frames = 0
        for name, data in blobs:                                   # same output from both readers
            xyz, ids = fast_reader(data, name)
            base_xyz, base_ids = line_reader(data)
            np.testing.assert_array_equal(xyz, base_xyz)
            np.testing.assert_array_equal(ids, base_ids)
            frames += len(xyz)
        slow, fast = best_times([lambda blobs=blobs: [line_reader(data) for _, data in blobs],
                                 lambda blobs=blobs: [fast_reader(data, name) for name, data in blobs]], repeats)
        megabytes = sum(len(data) for _, data in blobs) / 1e6
        rows.append({"files": label, "count": len(blobs), "frames": frames, "megabytes": round(megabytes, 2),
                     "line_reader_files_per_s": len(blobs) / slow, "parse_ntu_files_per_s": len(blobs) / fast,
                     "line_reader_frames_per_s": frames / slow, "parse_ntu_frames_per_s": frames / fast,
                     "speedup": slow / fast})
    table = Table(title=f"NTU .skeleton parsing, 1 core, best of {repeats}")
    for column in ("files", "n", "line-by-line files/s", "parse_ntu files/s", "line-by-line frames/s",
                   "parse_ntu frames/s", "speed-up"):
        table.add_column(column, justify="left" if column == "files" else "right")
    for r in rows:
        table.add_row(r["files"], str(r["count"]), f"{r['line_reader_files_per_s']:,.0f}",
                      f"{r['parse_ntu_files_per_s']:,.0f}", f"{r['line_reader_frames_per_s']:,.0f}",
                      f"{r['parse_ntu_frames_per_s']:,.0f}", f"{r['speedup']:.1f}x")
    return {"name": "parse", "table": table, "rows": rows}


@click.command()
@click.option("--files", "count", default=300, show_default=True, help="Synthetic files to generate.")
@click.option("--repeats", default=5, show_default=True, help="Timed rounds (best pass of each reader is kept).")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(count: int, repeats: int, out: Path) -> None:
    pa.set_cpu_count(1)
    with tempfile.TemporaryDirectory() as tmp:
        per_class = max(2, count // 60)
        generate(Path(tmp) / "raw", "ntu60", classes=min(60, max(1, count // per_class)), per_class=per_class,
                 seed=0, empty_rate=0)
        synthetic = sorted((Path(tmp) / "raw").rglob("*.skeleton"))
        file_sets = {"synthetic": synthetic, "real fixtures": sorted(FIXTURES.glob("*.skeleton"))}
        sections = [parse_section(file_sets, repeats)]
        # Further sections go here (each returns {"name", "table", "rows"}); the synthetic NTU tree
        # is still available as Path(tmp) / "raw" for them.
    console = Console(width=120)
    for section in sections:
        console.print(section["table"])
    write_json(out, {
        "benchmark": "parse", "repeats": repeats, "threads": 1, "numpy": np.__version__,
        "pyarrow": pa.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
        "sections": {s["name"]: s["rows"] for s in sections}})


if __name__ == "__main__":
    main()
