"""Benchmark: ``actclr-data pull`` from a local http server (MB/s; resumed after a kill) and a
``publish`` + ``pull`` round trip through ``memory://``.

Builds a synthetic prepared NTU-60 dataset (``actclr.synth`` + the real ``prepare``) unless
``--data DIR`` names one, serves it on 127.0.0.1 (an ephemeral port; nothing else is contacted)
and runs ``pull`` as a separate process (the console script's code path): a full pull, then a
pull killed (SIGKILL) once about half the bytes have arrived and run again to completion. Every
copy is checked to have the source's fingerprint (recomputed). Prints a table and writes
``bench/results/transfer.json``.

The MiB of the resumed row are those it still had to copy.

    python bench/transfer.py [--classes 60] [--per-class 20] [--jobs 4] [--data DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from http_server import serve  # noqa: E402  (the tests' 127.0.0.1 server)

from actclr.store import compute_fingerprint  # noqa: E402
from actclr.store.atomic import write_json  # noqa: E402
from actclr.store.transfer import publish, pull  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "transfer.json"
MIB = 2 ** 20


def dataset_bytes(root: Path) -> int:
    info = json.loads((root / "dataset.json").read_text())
    return sum((root / name).stat().st_size for name in info["files"])


def tree_bytes(root: Path) -> int:
    """Bytes under ``root`` now (a pull renames temporary files meanwhile: those are skipped)."""
    total = 0
    for path in root.rglob("*") if root.exists() else ():
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size if path.is_file() else 0
    return total


def pull_command(url: str, dest: Path, jobs: int) -> list:
    return [sys.executable, "-m", "actclr.cli.data", "pull", url, str(dest), "--jobs", str(jobs)]


def pull_seconds(output: str) -> float:
    """The transfer time that ``pull`` reports (without the Python start-up)."""
    found = re.search(r"in ([0-9.]+) s \(", output)
    if found is None:
        raise SystemExit(f"no timing in the pull output: {output!r}")
    return float(found.group(1))


def check(dest: Path, fingerprint: str) -> None:
    if compute_fingerprint(dest) != fingerprint:
        raise SystemExit(f"{dest}: fingerprint differs from the source")


def timed_pull(url: str, dest: Path, jobs: int, fingerprint: str) -> tuple[float, float]:
    """Run ``pull URL DEST`` to completion and check the copy: ``(transfer s it reports, command s)``."""
    start = time.perf_counter()
    done = subprocess.run(pull_command(url, dest, jobs), check=True, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "300"})
    wall = time.perf_counter() - start
    check(dest, fingerprint)
    return pull_seconds(done.stdout), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=60)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--data", type=Path, default=None, help="A prepared dataset to use instead of building one.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="actclr-transfer-"))
    try:
        source = args.data
        if source is None:
            from actclr.pipelines.prepare import PrepareOptions, prepare_dataset
            from actclr.synth import generate

            generate(work / "raw", "ntu60", classes=args.classes, per_class=args.per_class, seed=0)
            source = prepare_dataset(PrepareOptions("ntu60", (work / "raw",), work / "prepared")).out
        info = json.loads((source / "dataset.json").read_text())
        size = dataset_bytes(source)
        rows = []
        with serve(source) as url:
            seconds, wall = timed_pull(url, work / "full", args.jobs, info["fingerprint"])
            rows.append({"case": f"pull over http, {args.jobs} jobs", "seconds": seconds, "MiB": size / MIB,
                         "MiB/s": size / MIB / seconds, "command seconds": wall})

            killed = subprocess.Popen(pull_command(url, work / "resumed", args.jobs), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            while killed.poll() is None and tree_bytes(work / "resumed") < size // 2:
                time.sleep(0.005)
            killed.send_signal(signal.SIGKILL)
            killed.wait()
            arrived = tree_bytes(work / "resumed")
            looks_complete = (work / "resumed" / "dataset.json").exists()
            seconds, wall = timed_pull(url, work / "resumed", args.jobs, info["fingerprint"])
            rows.append({"case": "resumed pull after SIGKILL", "seconds": seconds, "MiB": (size - arrived) / MIB,
                         "MiB/s": (size - arrived) / MIB / seconds, "command seconds": wall,
                         "MiB on disk when killed": arrived / MIB,
                         "dataset.json present after the kill": looks_complete})

        target = "memory://bench/ntu60"
        start = time.perf_counter()
        publish(source, target, jobs=args.jobs)
        published = time.perf_counter() - start
        start = time.perf_counter()
        pull(target, work / "memory", jobs=args.jobs)
        pulled = time.perf_counter() - start
        check(work / "memory", info["fingerprint"])
        rows.append({"case": "publish to memory:// (verify included)", "seconds": published, "MiB": size / MIB,
                     "MiB/s": size / MIB / published})
        rows.append({"case": "pull from memory://", "seconds": pulled, "MiB": size / MIB,
                     "MiB/s": size / MIB / pulled})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"dataset: {info['num_samples']} samples, {len(info['files'])} files, {size / MIB:.1f} MiB; "
          "every copy has the source's fingerprint")
    print(f"{'case':42s} {'MiB':>8s} {'s':>7s} {'MiB/s':>8s} {'command s':>10s}")
    for row in rows:
        command = f"{row['command seconds']:10.2f}" if "command seconds" in row else f"{'-':>10s}"
        print(f"{row['case']:42s} {row['MiB']:8.1f} {row['seconds']:7.2f} {row['MiB/s']:8.1f} {command}")
    print("s: the transfer as pull reports it (resumed: re-hashing the files kept included); "
          "command s: the whole command, Python start-up included")
    resumed = rows[1]
    print(f"killed with {resumed['MiB on disk when killed']:.1f} MiB on disk; dataset.json present after the kill: "
          f"{resumed['dataset.json present after the kill']}")
    write_json(RESULTS, {"samples": info["num_samples"], "files": len(info["files"]), "MiB": size / MIB,
                         "jobs": args.jobs, "rows": rows})


if __name__ == "__main__":
    main()
