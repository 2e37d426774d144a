"""Benchmark: ST-GCN encoder forward+backward, actclr's formulation against the classic one.

The baseline is a straightforward ST-GCN written here the way the official ``net/st_gcn.py`` is
(1x1 conv to K*C channels, ``einsum('nkctv,kvw->nctw')``, ``Conv2d (9, 1)``, ``nn.Dropout``,
contiguous NCHW, official parameter names). Both models get the same weights (the baseline's,
renamed by ``actclr.models.stgcn.official_key``) and the bench first checks that their eval-mode
feature maps agree. It then times train-mode steps (forward to the 128-d embedding, mean-square
loss, backward) alternating the two models, a few steps after warm-up, and reports medians.
Process CPU time is reported too: on a shared machine it is far less disturbed by other
processes than wall time, which with 2 threads collapses when another process takes a core.
The JSON records the load average before and after the run.

    python bench/encoder.py [--batch 64] [--iters 5] [--warmup 1] [--threads 2,1]
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import click
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from actclr.models import Encoder, Projector, init_weights
from actclr.models.graph import spatial_partition
from actclr.models.stgcn import BLOCKS, STGCN, TEMPORAL_KERNEL, official_key
from actclr.store.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "encoder.json"
#: Process settings that change CPU timings a lot (allocator behaviour for large tensors).
ENV_KEYS = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "THP_MEM_ALLOC_ENABLE",
            "LD_PRELOAD", "OMP_NUM_THREADS")


class ReferenceGraphConv(nn.Module):
    """Official ``ConvTemporalGraphical``: 1x1 conv to K*C, then ``einsum`` over (k, v)."""

    def __init__(self, in_channels: int, out_channels: int, k: int):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(in_channels, out_channels * k, kernel_size=1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        n, kc, t, v = (y := self.conv(x)).shape
        return torch.einsum("nkctv,kvw->nctw", y.view(n, self.k, kc // self.k, t, v), a).contiguous()


class ReferenceBlock(nn.Module):
    """Official ``st_gcn`` block (``tcn`` = BN, ReLU, Conv 9x1, BN, Dropout; residual)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, residual: bool, dropout: float):
        super().__init__()
        self.gcn = ReferenceGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (TEMPORAL_KERNEL, 1), (stride, 1), (TEMPORAL_KERNEL // 2, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout, inplace=True))
        if not residual:
            self.residual = lambda x: 0
        elif c_in == c_out and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = self.residual(x)
        return self.relu(self.tcn(self.gcn(x, a)) + res)


class ReferenceSTGCN(nn.Module):
    """Official ``Model``: data BN on ``(N*M, V*C, T)``, ten blocks, per-block edge importance."""

    def __init__(self, in_channels: int = 3, hidden: int = 16, out_channels: int = 256, dropout: float = 0.5):
        super().__init__()
        self.register_buffer("A", spatial_partition())
        k, v = self.A.shape[:2]
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        widths = [in_channels] + [out_channels if m is None else hidden * m for m, _ in BLOCKS]
        self.st_gcn_networks = nn.ModuleList(
            ReferenceBlock(widths[i], widths[i + 1], k, stride, residual=i > 0,
                           dropout=0.0 if i == 0 else dropout)
            for i, (_, stride) in enumerate(BLOCKS))
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones(k, v, v)) for _ in BLOCKS)
        self.out_channels = out_channels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, M, C', T', V)``."""
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for block, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = block(x, self.A * importance)
        return x.view(n, m, *x.shape[1:])


def randomize_batch_norm(model: nn.Module, generator: torch.Generator) -> None:
    """Non-trivial BN affine parameters and running statistics, so the eval check means something."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))


def paired_backbones(hidden: int = 16, out_channels: int = 256, dropout: float = 0.5,
                     seed: int = 0) -> tuple[ReferenceSTGCN, STGCN]:
    """``(reference, actclr)`` backbones with identical, non-trivial weights (BN statistics and
    edge importance perturbed; reference names mapped by ``official_key``)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    reference = ReferenceSTGCN(hidden=hidden, out_channels=out_channels, dropout=dropout)
    randomize_batch_norm(reference, generator)
    with torch.no_grad():
        for importance in reference.edge_importance:
            importance.add_(0.1 * torch.randn(importance.shape, generator=generator))
    fast = STGCN(hidden_channels=hidden, out_channels=out_channels, dropout=dropout)
    fast.load_state_dict({official_key(k): v for k, v in reference.state_dict().items() if k != "A"})
    return reference, fast


def paired_encoders(seed: int = 0) -> tuple[Encoder, Encoder]:
    """``(reference, actclr)`` full-size encoders (backbone + projector) with identical weights."""
    reference, fast = paired_backbones(seed=seed)
    projector, fast_projector = Projector(), Projector()
    fast_projector.load_state_dict(projector.state_dict())
    return Encoder(reference, projector), Encoder(fast, fast_projector)


def make_batch(n: int, frames: int = 50, seed: int = 0) -> torch.Tensor:
    """``(N, 3, T, 25, 2)`` random input; every other second body is empty (single-person actions)."""
    x = torch.randn(n, 3, frames, 25, 2, generator=torch.Generator().manual_seed(seed))
    x[1::2, ..., 1] = 0
    return x


def train_step(encoder: Encoder, x: torch.Tensor) -> None:
    """One train-mode forward to the embedding + mean-square loss + backward."""
    encoder.zero_grad(set_to_none=True)
    encoder.embed(x).square().mean().backward()


def time_pair(models: dict, x: torch.Tensor, iters: int, warmup: int) -> dict:
    """Alternating timed steps; per model the wall and process-CPU seconds of every step."""
    for model in models.values():
        model.train()
        for _ in range(warmup):
            train_step(model, x)
    times = {name: {"wall": [], "cpu": []} for name in models}
    for _ in range(iters):
        for name, model in models.items():
            wall, cpu = time.perf_counter(), time.process_time()
            train_step(model, x)
            times[name]["cpu"].append(time.process_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


@click.command()
@click.option("--batch", default=64, show_default=True, help="Sequences per step (x2 bodies).")
@click.option("--frames", default=50, show_default=True, help="Frames per sequence.")
@click.option("--iters", default=5, show_default=True, help="Timed steps per model (median).")
@click.option("--warmup", default=1, show_default=True, help="Untimed steps per model first.")
@click.option("--threads", default="2,1", show_default=True, help="Comma-separated torch thread counts.")
def main(batch: int, frames: int, iters: int, warmup: int, threads: str) -> None:
    console = Console()
    load_before = os.getloadavg()
    reference, fast = paired_encoders()
    x = make_batch(batch, frames)
    with torch.no_grad():
        ref_map, fast_map = reference.eval().feature_map(x), fast.eval().feature_map(x)
    max_diff = (ref_map - fast_map).abs().max().item()
    scale = ref_map.abs().max().item()
    if max_diff > 1e-4 * max(scale, 1.0):
        raise SystemExit(f"eval-mode feature maps differ: max |diff| {max_diff:.3g} (max |ref| {scale:.3g})")
    console.print(f"eval-mode feature maps agree: max |diff| {max_diff:.2e} (max |value| {scale:.2f})")

    rows = []
    for count in (int(t) for t in threads.split(",")):
        torch.set_num_threads(count)
        times = time_pair({"reference": reference, "actclr": fast}, x, iters, warmup)
        medians = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
        for name in ("reference", "actclr"):
            rows.append({"threads": count, "impl": name,
                         "median_ms": 1e3 * medians[name]["wall"], "min_ms": 1e3 * min(times[name]["wall"]),
                         "cpu_median_ms": 1e3 * medians[name]["cpu"],
                         "speedup": medians["reference"]["wall"] / medians[name]["wall"],
                         "speedup_min": min(times["reference"]["wall"]) / min(times[name]["wall"]),
                         "cpu_speedup": medians["reference"]["cpu"] / medians[name]["cpu"]})

    table = Table(title=f"ST-GCN encoder train step (fwd+bwd), CPU, batch {batch}x2 bodies, T={frames}, "
                        f"median of {iters}; speed-up over the reference (median, min, process CPU time)")
    for column in ("threads", "impl", "ms/step", "min ms", "CPU ms", "speed-up", "(min)", "(CPU)"):
        table.add_column(column, justify="left" if column == "impl" else "right")
    for row in rows:
        table.add_row(str(row["threads"]), row["impl"], f"{row['median_ms']:.0f}", f"{row['min_ms']:.0f}",
                      f"{row['cpu_median_ms']:.0f}", f"{row['speedup']:.2f}x", f"{row['speedup_min']:.2f}x",
                      f"{row['cpu_speedup']:.2f}x")
    console.print(table)

    write_json(RESULTS, {
        "batch": batch, "bodies": 2, "frames": frames, "iters": iters, "warmup": warmup,
        "eval_max_abs_diff": max_diff, "torch": torch.__version__, "platform": platform.platform(),
        "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ},
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "parameters": sum(p.numel() for p in fast.parameters()),
        "results": rows,
    })
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
