"""Benchmark: batched torch augmentation views vs per-sample numpy float64 (official style).

The baseline is written here in the style of the official ``Dataset.__getitem__`` pipelines
(AimCLR / ActCLR ``feeder/tools.py``): one sample at a time, numpy float64, scalar draws from
Python's ``random`` and noise from ``numpy.random.RandomState``. AdaIN and Skeleton Mix, which
the official code runs on the GPU per batch, are written per sample with a partner here too.
Both sides run in the same process on one CPU thread with the same view definitions (epoch 1:
every transform active), timed alternately (as inside a training loop, and robust to load on a
shared machine) and consecutively (each side warm). With ``--device cuda`` the batched side runs
on the GPU (the numpy side stays on the CPU, as in the official feeders) and its timings wait
for the GPU to finish. Wall and process CPU time are recorded.

Everything is measured twice: with glibc's default allocator settings, then (where glibc is
available) after ``mallopt`` asks it to keep freed memory, as ``MALLOC_TRIM_THRESHOLD_`` and
``MALLOC_MMAP_THRESHOLD_`` would. By default every batch-sized buffer tends to get fresh,
page-faulted memory, which on a VM can cost more than the arithmetic; the second setting shows
the arithmetic alone (for both sides; the library itself never changes allocator settings).

    python bench/augment.py [--batch 128] [--repeats 5] [--device cpu|cuda] [--out FILE]
"""
from __future__ import annotations

import ctypes
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from math import cos, radians, sin
from pathlib import Path

import click
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from rich.console import Console
from rich.table import Table

from actclr.augment import Augmenter, build_augmenter, official_config, skeleton_adain, skeleton_mix
from actclr.engine.dist import select_device
from actclr.engine.rundir import device_record
from actclr.skeleton import BODY_PARTS, FLIP_PERMUTATION, PARENTS, TREE_ORDER
from actclr.store.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "augment.json"
FLIP = list(FLIP_PERMUTATION)


# ---------------------------------------------------------------- per-sample numpy baseline
class Sampler:
    """The official pipelines' random sources: ``random`` for scalars, RandomState for noise."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.nprs = np.random.RandomState(seed)


def np_crop(x: np.ndarray, s: Sampler, pad: int = 8) -> np.ndarray:
    start = s.rnd.randint(0, 2 * pad)
    padded = np.concatenate((x[:, :pad][:, ::-1], x, x[:, -pad:][:, ::-1]), axis=1)
    return padded[:, start:start + x.shape[1]]


def _linear(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.dot(x.transpose(1, 2, 3, 0), matrix.T).transpose(3, 0, 1, 2)


def np_shear(x: np.ndarray, s: Sampler, a: float = 0.5) -> np.ndarray:
    matrix = np.eye(3)
    matrix[~np.eye(3, dtype=bool)] = [s.rnd.uniform(-a, a) for _ in range(6)]
    return _linear(x, matrix)


def np_flip(x: np.ndarray, s: Sampler, p: float = 0.5) -> np.ndarray:
    return x[:, :, FLIP] if s.rnd.random() < p else x


def _axis_matrix(axis: int, angle: float) -> np.ndarray:
    c, sn = cos(angle), sin(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, sn, -sn, c
    return matrix


def np_rotate(x: np.ndarray, s: Sampler) -> np.ndarray:
    main = s.rnd.randint(0, 2)
    for axis in range(3):
        x = _linear(x, _axis_matrix(axis, radians(s.rnd.uniform(0, 30 if axis == main else 1))))
    return x


def np_noise(x: np.ndarray, s: Sampler, std: float, p: float = 0.5) -> np.ndarray:
    return x + s.nprs.normal(0, std, size=x.shape) if s.rnd.random() < p else x


def np_blur(x: np.ndarray, s: Sampler, p: float = 0.5, taps: int = 15) -> np.ndarray:
    sigma = s.rnd.uniform(0.1, 2.0)
    if s.rnd.random() >= p:
        return x
    k = np.arange(-(taps // 2), taps // 2 + 1)
    kernel = np.exp(-k ** 2 / (2 * sigma ** 2))
    padded = np.pad(x, ((0, 0), (taps // 2, taps // 2), (0, 0), (0, 0)))
    return sliding_window_view(padded, taps, axis=1) @ kernel


def np_axis_mask(x: np.ndarray, s: Sampler, p: float = 0.5) -> np.ndarray:
    if s.rnd.random() < p:
        x = x.copy()
        x[s.rnd.randint(0, 2)] = 0
    return x


def np_speed(x: np.ndarray, s: Sampler) -> np.ndarray:
    if s.rnd.random() > 0.5:
        return x
    frames = x.shape[1]
    length = max(1, int(frames * s.rnd.uniform(0.5, 1.5)))
    pos = np.clip((np.arange(min(length, frames)) + 0.5) * frames / length - 0.5, 0, frames - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, frames - 1)
    w = (pos - lo)[None, :, None, None]
    out = np.zeros_like(x)
    out[:, :len(pos)] = x[:, lo] * (1 - w) + x[:, hi] * w
    return out


def np_bone_shrink(x: np.ndarray, s: Sampler, scale: float = 0.5) -> np.ndarray:
    bones = x - x[:, :, list(PARENTS)]
    x = x.copy()
    for joint in TREE_ORDER[1:]:
        x[:, :, joint] = x[:, :, PARENTS[joint]] + bones[:, :, joint] * scale * s.rnd.random()
    return x


def np_adain(x: np.ndarray, partner: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    mean, std = x.mean(axis=2, keepdims=True), x.std(axis=1, ddof=1, keepdims=True)
    partner_mean, partner_std = partner.mean(axis=2, keepdims=True), partner.std(axis=1, ddof=1, keepdims=True)
    return (x - mean) / (std + eps) * partner_std + partner_mean


def np_mix(x: np.ndarray, partner: np.ndarray, s: Sampler) -> np.ndarray:
    parts = s.rnd.sample(BODY_PARTS, s.rnd.randint(2, 3))
    joints = sorted(j for part in parts for j in part)
    units = s.rnd.randint(3, 5)
    start, width = 4 * s.rnd.randint(0, x.shape[1] // 4 - units), 4 * units
    u = s.rnd.random()
    if u <= 0.25:
        lam = s.rnd.random()
        return (1 - lam) * x + lam * partner
    out = x.copy()
    window = slice(start, start + width)
    if u > 0.5:
        out[:, window, joints] = partner[:, window][:, :, joints]
    else:
        out[:, window, joints] = partner[:, :2 * width:2][:, :, joints]
    return out


def np_view(x: np.ndarray, s: Sampler, kind: str) -> np.ndarray:
    """One view of one sample (C, T, V, M): 'weak', 'normal' or 'extreme' (official lists)."""
    x = np_shear(np_crop(x, s), s)
    if kind == "weak":
        return x
    std = 0.01 if kind == "normal" else 0.05
    x = np_axis_mask(np_blur(np_noise(np_rotate(np_flip(x, s), s), s, std), s), s)
    return np_bone_shrink(np_speed(x, s), s) if kind == "extreme" else x


def numpy_views(batch: np.ndarray, s: Sampler, kinds: tuple[str, ...], actclr: bool) -> list:
    """Per-sample views like a Dataset.__getitem__ loop, then the per-batch ActCLR extras."""
    views = [[np_view(sample, s, k) for k in kinds] for sample in batch]
    if actclr:
        n = len(batch)
        partner = [(i + s.rnd.randint(1, n - 1)) % n for i in range(n)]
        weak_p = [v[kinds.index("weak")] for v in views]
        styled = [np_adain(weak_p[i], weak_p[partner[i]]) for i in range(n)]
        mixed = [np_mix(styled[i], styled[partner[i]], s) for i in range(n)]
        swapped = [np_mix(weak_p[i], weak_p[partner[i]], s) for i in range(n)]
        views = [v + [a, b, c] for v, a, b, c in zip(views, styled, mixed, swapped)]
    return [np.stack(column).astype(np.float32) for column in zip(*views)]


# ---------------------------------------------------------------- batched torch pipeline
def torch_views(x: torch.Tensor, g: torch.Generator, names: tuple[str, ...], actclr: bool,
                augmenter: Augmenter) -> list:
    """The named views of the batch; for ActCLR also AdaIN(weak), Mix(AdaIN) and Mix(weak).
    Returns when the device has finished them."""
    views = [augmenter.view(name, x, g, epoch=1) for name in names]
    if actclr:
        styled = skeleton_adain(views[names.index("weak")], g)
        views += [styled, skeleton_mix(styled, g).x, skeleton_mix(views[names.index("weak")], g).x]
    if x.device.type == "cuda":  # return once the GPU has made them, for the timings
        torch.cuda.synchronize(x.device)
    return views


# ---------------------------------------------------------------- measurement
def make_batch(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random skeleton sequences (N, 3, 50, 25, 2) float32; every other second body empty."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 3, 1, 25, 2)) + np.cumsum(rng.normal(0, 0.01, (n, 3, 50, 25, 2)), axis=2)
    x[1::2, :, :, :, 1] = 0
    return x.astype(np.float32)


def paired_times(first: Callable[[], object], second: Callable[[], object], repeats: int,
                 alternate: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median ``(wall, process CPU)`` seconds of two functions after one warm-up call each.

    ``alternate=True`` times them in turns (first, second, first, ...): both see the same load
    on a shared machine and each starts with caches and allocator state left by the other, as
    in a training loop. ``alternate=False`` runs all repeats of one, then of the other (warm).
    """
    first(), second()
    times: tuple[list, list] = ([], [])
    order = [(first, times[0]), (second, times[1])]
    schedule = order * repeats if alternate else [order[0]] * repeats + [order[1]] * repeats
    for fn, out in schedule:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - wall, time.process_time() - cpu))
    return tuple(tuple(statistics.median(column) for column in zip(*side)) for side in times)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse: no trimming of the heap and no ``mmap`` for
    blocks under 32 MiB (``mallopt``, process-wide and irreversible). False without glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


VIEW_SETS = {
    # AimCLR: one extreme view (crop, shear, flip, rotate, noise, blur, axis mask = ActCLR's
    # 'normal' list) and two normal views (crop, shear = ActCLR's 'weak').
    "AimCLR: extreme + 2 normal": (("normal", "weak", "weak"), False),
    # ActCLR: extreme, normal, weak x2, then AdaIN(weak), Mix(AdaIN) and Mix(weak).
    "ActCLR: extreme, normal, 2 weak, AdaIN, 2 mix": (("extreme", "normal", "weak", "weak"), True),
}


@click.command()
@click.option("--batch", default=128, show_default=True, help="Samples per batch.")
@click.option("--repeats", default=5, show_default=True, help="Timed repetitions per side.")
@click.option("--device", type=click.Choice(("cpu", "cuda")), default="cpu", show_default=True,
              help="Where the batched torch views run.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(batch: int, repeats: int, device: str, out: Path) -> None:
    torch.set_num_threads(1)
    try:
        dev = select_device(device)
    except RuntimeError as err:  # CUDA asked for but absent: one line, no traceback
        raise click.ClickException(str(err)) from None
    data = make_batch(batch)
    x = torch.from_numpy(data).to(dev)
    augmenter = build_augmenter(official_config())
    sampler, g = Sampler(0), torch.Generator(device=x.device).manual_seed(0)
    load_before = os.getloadavg()
    rows = []
    for allocator in ("default", "freed memory kept"):
        if allocator != "default" and not keep_freed_memory():
            break
        for label, (names, actclr) in VIEW_SETS.items():
            for timing in ("alternating", "consecutive"):
                numpy_s, torch_s = paired_times(partial(numpy_views, data, sampler, names, actclr),
                                                partial(torch_views, x, g, names, actclr, augmenter),
                                                repeats, alternate=timing == "alternating")
                row = {"views": label, "allocator": allocator, "timing": timing,
                       "speedup": numpy_s[0] / torch_s[0], "cpu_speedup": numpy_s[1] / torch_s[1]}
                for side, (wall, cpu) in (("numpy", numpy_s), ("torch", torch_s)):
                    row.update({f"{side}_ms_per_batch": 1e3 * wall, f"{side}_cpu_ms_per_batch": 1e3 * cpu,
                                f"{side}_samples_per_s": batch / wall})
                rows.append(row)
    where = "" if dev.type == "cpu" else f", torch side on {torch.cuda.get_device_name(dev)}"
    table = Table(title=f"Augmentation time per batch (batch {batch}, 1 CPU thread{where}, median of {repeats})")
    for column in ("views", "glibc allocator", "timing", "numpy per-sample (ms)", "torch batched (ms)",
                   "speed-up (wall)", "speed-up (CPU)"):
        table.add_column(column, justify="right" if "(" in column else "left")
    for r in rows:
        table.add_row(r["views"], r["allocator"], r["timing"], f"{r['numpy_ms_per_batch']:.1f}",
                      f"{r['torch_ms_per_batch']:.1f}", f"{r['speedup']:.1f}x", f"{r['cpu_speedup']:.1f}x")
    console = Console(width=130)
    console.print(table)
    write_json(out, {"benchmark": "augment", "batch": batch, "repeats": repeats, "threads": 1,
                     **device_record(dev), "torch": torch.__version__, "numpy": np.__version__,
                     "machine": platform.machine(), "load_average_before": load_before,
                     "load_average_after": os.getloadavg(), "results": rows})
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
