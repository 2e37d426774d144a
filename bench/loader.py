"""Benchmark: streaming throughput and peak memory of ShardStream and H5Samples vs the official loader.

Builds a synthetic prepared dataset in the format of ``docs/data-format.md`` (WebDataset shards +
index written by ``actclr.store.shards``, ``skeletons.h5`` ``ready`` with one gzip-4 chunk per
sample) plus the official baseline files (one ``(N, 3, 50, 25, 2)`` float32 ``.npy`` and a pickled
``(names, labels)``), then reads one shuffled
epoch with 0, 1 and 2 DataLoader workers per loader. ``ShardStream`` runs twice: verified (every
shard hashed as it streams and checked against ``dataset.json``, the default) and unverified
(``verify=False``, i.e. ``--no-verify``), and the table ends with the cost of verification (median
over ``--repeat`` interleaved runs), in samples/s and in CPU time per sample (user + system of the
main process and its workers, which a loaded machine disturbs much less than wall time). Each
configuration runs in a fresh Python
process so its peak memory is its own. Memory is reported three ways: the peak RSS of the main
process (``VmHWM``) and of the largest worker (``RUSAGE_CHILDREN`` ``ru_maxrss``; a forked worker's
RSS counts the pages it shares with the main process, e.g. torch's libraries), and the peak PSS of
the main process plus its workers sampled from ``/proc`` (shared pages split between the processes
that map them: the honest total).

The baseline is the official (AimCLR / ActCLR ``feeder/ntu_feeder.py``) style: ``np.load(mmap_mode='r')``
in the dataset constructor, one ``np.array(data[i])`` copy per item, default collation.

With ``--device cuda`` every loader pins its batches (as ``make_loader`` does for CUDA) and each
batch is copied to the GPU without blocking (``to_device``); the clock stops once the last copy
has arrived, so samples/s include the host-to-device transfer.

    python bench/loader.py [--samples 20000] [--workers 0,1,2] [--batch-size 128] [--data DIR]
                           [--kinds ShardStream,"ShardStream unverified"] [--repeat 3] [--device cpu|cuda]
"""
from __future__ import annotations

import itertools
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click
import h5py
import numpy as np
import torch
import webdataset as wds
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader, Dataset

from actclr.data import H5Samples, ShardStream, make_loader, to_device
from actclr.engine.dist import select_device
from actclr.engine.rundir import device_record
from actclr.store.atomic import write_json
from actclr.store.checksums import checksum_tree
from actclr.store.shards import make_sample, shuffled_rows, write_split

RESULTS = Path(__file__).resolve().parent / "results" / "loader.json"
SHAPE = (3, 50, 25, 2)
KINDS = ("official npy-mmap", "H5Samples", "ShardStream", "ShardStream unverified")
MB = 1024 * 1024


# ---------------------------------------------------------------- synthetic prepared dataset
def synthetic_block(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 3, 50, 25, 2)`` float32 random walks around a random pose; body 2 empty in half of them."""
    pose = rng.normal(0.0, 0.3, (n, 3, 1, 25, 2))
    x = (pose + np.cumsum(rng.normal(0.0, 0.01, (n, *SHAPE)), axis=2)).astype(np.float32)
    x[rng.random(n) < 0.5, ..., 1] = 0.0
    return x


def build(root: Path, n: int, seed: int = 0, block: int = 1000) -> None:
    """Write ``skeletons.h5``, the baseline ``.npy``/``.pkl`` and the shards + index (with the store's writer)."""
    rng = np.random.default_rng(seed)
    keys = [f"S{1 + i // 5000:03d}C001P{i % 1000:03d}R{1 + i // 1000 % 5:03d}A{i % 60 + 1:03d}" for i in range(n)]
    keys = [f"{key}_{i}" for i, key in enumerate(keys)]  # unique, no dots
    labels = np.arange(n, dtype=np.int64) % 60
    mmap = np.lib.format.open_memmap(root / "train_data.npy", mode="w+", dtype=np.float32, shape=(n, *SHAPE))
    with h5py.File(root / "skeletons.h5", "w") as h5:
        ready = h5.create_dataset(
            "ready", (n, *SHAPE), dtype="f4", chunks=(1, *SHAPE), compression="gzip", compression_opts=4, shuffle=True
        )
        for lo in range(0, n, block):
            x = synthetic_block(rng, min(block, n - lo))
            ready[lo : lo + len(x)] = x
            mmap[lo : lo + len(x)] = x
        h5.create_dataset("labels", data=labels)
        h5.create_dataset("keys", data=keys, dtype=h5py.string_dtype())
    with open(root / "train_label.pkl", "wb") as f:
        pickle.dump((keys, labels.tolist()), f)
    order = shuffled_rows(np.arange(n), seed)
    samples = (make_sample({"key": keys[i], "label": int(labels[i])}, int(i), mmap[i]) for i in order)
    write_split(root / "shards" / "xsub", "xsub", "train", samples, n, seed)
    del mmap
    write_json(root / "dataset.json", {"files": checksum_tree(root)})  # the shards' sha256, as prepare lists them


# ---------------------------------------------------------------- the official-style baseline
class NpyFeeder(Dataset):
    """Official feeder style: memory-mapped ``.npy`` opened in the constructor, pickled labels."""

    def __init__(self, data_path: Path, label_path: Path) -> None:
        with open(label_path, "rb") as f:
            self.sample_name, self.label = pickle.load(f)
        self.data = np.load(data_path, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: int):
        return torch.from_numpy(np.array(self.data[index])), self.label[index], self.sample_name[index]


def make(kind: str, root: Path, workers: int, batch_size: int, device: torch.device) -> DataLoader:
    if kind == KINDS[0]:
        feeder = NpyFeeder(root / "train_data.npy", root / "train_label.pkl")
        return DataLoader(feeder, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                          pin_memory=device.type == "cuda")
    if kind == KINDS[1]:
        return make_loader(H5Samples(root / "skeletons.h5"), device, batch_size=batch_size, shuffle=True,
                           num_workers=workers, drop_last=True, persistent_workers=False)
    stream = ShardStream.from_dataset_dir(root, "xsub", "train", batch_size, rank=0, world_size=1,
                                          verify=kind == KINDS[2])
    return make_loader(stream, device, num_workers=workers, persistent_workers=False)


# ---------------------------------------------------------------- memory measurement
def peak_rss_mb() -> float:
    """Peak RSS of this process since its ``exec`` (``VmHWM``; ``ru_maxrss`` would include the RSS
    of the parent that spawned it, which Linux carries across ``exec``)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


class PssSampler(threading.Thread):
    """Peak PSS (MiB) of this process plus its children, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_kb, self.stop = interval, 0, threading.Event()

    def run(self) -> None:
        pid = os.getpid()
        while True:
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in [pid, *_children(pid)]))
            if self.stop.wait(self.interval):
                return

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kb / 1024 if self.peak_kb else None


# ---------------------------------------------------------------- one configuration (child process)
def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its reaped children (the loader workers)."""
    return sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def run_one(kind: str, root: Path, workers: int, batch_size: int, max_batches: int | None,
            device: torch.device) -> dict:
    torch.set_num_threads(1)
    rss_start = peak_rss_mb()
    cpu_start = cpu_seconds()
    sampler = PssSampler()
    sampler.start()
    loader = make(kind, root, workers, batch_size, device)
    wait = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    batches = iter(loader)
    first = to_device(next(batches), device)
    wait()
    after_first = time.perf_counter()
    samples = 0
    for batch in itertools.islice(batches, max_batches):
        samples += len(to_device(batch[0], device))
    wait()
    end = time.perf_counter()
    del batches, loader  # workers exit and are reaped, so RUSAGE_CHILDREN covers them
    sampler.stop.set()
    sampler.join()
    cpu = cpu_seconds() - cpu_start
    return {
        "kind": kind,
        "workers": workers,
        "samples": samples + len(first[0]),
        "first_batch_s": after_first - start,
        "samples_per_s": samples / (end - after_first),
        "cpu_ms_per_sample": 1000 * cpu / (samples + len(first[0])),
        "rss_start_mb": rss_start,
        "rss_main_mb": peak_rss_mb(),
        "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers else 0.0,
        "pss_total_mb": sampler.peak_mb,
    }


# ---------------------------------------------------------------- driver
def show(results: list[dict], console: Console) -> None:
    base = {r["workers"]: r["samples_per_s"] for r in results if r["kind"] == KINDS[0]}
    table = Table(title="Loading one shuffled epoch (batch of (3, 50, 25, 2) float32 samples)")
    for name in ("loader", "workers", "samples/s", "per worker", "vs official", "first batch",
                 "main RSS", "worker RSS", "PSS total"):
        table.add_column(name, justify="left" if name == "loader" else "right")
    for r in results:
        table.add_row(
            r["kind"], str(r["workers"]), f"{r['samples_per_s']:,.0f}",
            f"{r['samples_per_s'] / max(r['workers'], 1):,.0f}",
            f"{r['samples_per_s'] / base[r['workers']]:.2f}x" if r["workers"] in base else "-",
            f"{r['first_batch_s']:.2f} s", f"{r['rss_main_mb']:.0f} MB",
            f"{r['rss_worker_mb']:.0f} MB" if r["workers"] else "-",
            f"{r['pss_total_mb']:.0f} MB" if r["pss_total_mb"] else "n/a",
        )
    console.print(table)
    cost = Table(title="Cost of shard verification (sha256 while streaming; medians over the runs)")
    for name in ("workers", "runs", "samples/s verified", "unverified", "cost", "CPU ms/sample verified",
                 "unverified", "CPU cost"):
        cost.add_column(name, justify="right")
    for workers, row in verification_cost(results).items():
        cost.add_row(str(workers), str(row["runs"]), f"{row['verified']:,.0f}", f"{row['unverified']:,.0f}",
                     f"{row['cost_percent']:+.1f} %", f"{row['cpu_ms_verified']:.3f}",
                     f"{row['cpu_ms_unverified']:.3f}", f"{row['cpu_cost_percent']:+.1f} %")
    if cost.rows:
        console.print(cost)


def verification_cost(results: list[dict]) -> dict:
    """Per worker count measured both ways: median samples/s verified and not, and the cost in %."""
    runs: dict = {}
    for r in results:
        if r["kind"] in KINDS[2:]:
            runs.setdefault(r["workers"], {}).setdefault(r["kind"], []).append(r)
    cost = {}
    for workers, by_kind in sorted(runs.items()):
        if len(by_kind) == 2:
            (rate, rate_off), (cpu, cpu_off) = (
                [statistics.median(r[field] for r in by_kind[k]) for k in KINDS[2:]]
                for field in ("samples_per_s", "cpu_ms_per_sample"))
            cost[workers] = {"runs": len(by_kind[KINDS[2]]), "verified": rate, "unverified": rate_off,
                             "cost_percent": 100 * (1 - rate / rate_off), "cpu_ms_verified": cpu,
                             "cpu_ms_unverified": cpu_off, "cpu_cost_percent": 100 * (cpu / cpu_off - 1)}
    return cost


@click.command()
@click.option("--samples", default=20000, show_default=True, help="synthetic dataset size")
@click.option("--workers", default="0,1,2", show_default=True, help="DataLoader worker counts to measure")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--max-batches", type=int, default=None, help="cap each run (default: one full epoch)")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="reuse/keep the synthetic dataset here (default: a temporary directory)")
@click.option("--device", type=click.Choice(("cpu", "cuda")), default="cpu", show_default=True,
              help="Where the batches go (cuda: pinned memory, non-blocking copies).")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--kinds", default=",".join(KINDS), show_default=True, help="loaders to measure (comma-separated)")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1), help="interleaved runs of each")
@click.option("--one", type=click.Choice(KINDS), default=None, hidden=True)
def main(samples: int, workers: str, batch_size: int, max_batches: int | None, data: Path | None, device: str,
         out: Path, kinds: str, repeat: int, one: str | None) -> None:
    """Measure samples/s and peak memory of the actclr loaders against the official loader."""
    try:
        dev = select_device(device)
    except RuntimeError as err:  # CUDA asked for but absent: one line, no traceback
        raise click.ClickException(str(err)) from None
    if one is not None:  # child mode: a single configuration, result as JSON on stdout
        print(json.dumps(run_one(one, data, int(workers), batch_size, max_batches, dev)))
        return
    console = Console()
    console.width = max(console.width, 120)
    with tempfile.TemporaryDirectory(prefix="actclr-bench-loader-") as tmp:
        root = data or Path(tmp)
        build_s = 0.0
        if not (root / "dataset.json").exists():
            root.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            build(root, samples)
            build_s = time.perf_counter() - t0
            console.print(f"built {samples} synthetic samples in {root} ({build_s:.0f} s)")
        sizes = {p.name: p.stat().st_size / MB for p in root.iterdir() if p.is_file()}
        sizes["shards"] = sum(p.stat().st_size for p in (root / "shards" / "xsub").glob("*.tar")) / MB
        results = []
        chosen = [kind for kind in kinds.split(",") if kind]
        unknown = set(chosen) - set(KINDS)
        if unknown:
            raise click.BadParameter(f"unknown loader(s) {sorted(unknown)}; choose from {KINDS}", param_hint="--kinds")
        for _, count, kind in itertools.product(range(repeat), [int(w) for w in workers.split(",")], chosen):
            cmd = [sys.executable, __file__, "--one", kind, "--data", str(root), "--workers", str(count),
                   "--batch-size", str(batch_size), "--device", device]
            cmd += ["--max-batches", str(max_batches)] if max_batches else []
            child = subprocess.run(cmd, capture_output=True, text=True)
            if child.returncode != 0:
                raise click.ClickException(f"{kind} with {count} workers failed:\n{child.stderr}")
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            console.print(f"  {kind}, {count} workers: {results[-1]['samples_per_s']:,.0f} samples/s")
    show(results, console)
    report = {
        "benchmark": "loader",
        "config": {"samples": samples, "batch_size": batch_size, "max_batches": max_batches, "torch_threads": 1,
                   "repeat": repeat,
                   "build_s": build_s, "file_mb": sizes, **device_record(dev)},
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "h5py": h5py.__version__,
                        "webdataset": getattr(wds, "__version__", "?"), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
        "results": results,
        "verification_cost": verification_cost(results),
    }
    write_json(out, report)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
