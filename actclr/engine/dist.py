"""torchrun-native process setup: environment, process group, device, rank-0 helpers.

``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) starts one process per device; a plain ``python`` run is a
world of one and creates no process group. The backend is NCCL on CUDA and gloo on CPU.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as tdist

from actclr.constants import DEVICES
from actclr.ranks import launcher_ranks


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on global rank 0 (the process that writes files and logs)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


class DeviceError(RuntimeError):
    """The requested device does not exist here (a usage error: another ``--device`` works)."""

    exit_code = 2


def _no_cuda_reason() -> str:
    """Why CUDA is unavailable: a CPU-only torch build, or no visible GPU."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA"
    return f"torch {torch.__version__} sees no CUDA device"


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (device ``local_rank``) or ``auto`` (CUDA when available)."""
    if name not in DEVICES:
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"--device cuda: CUDA is not available: {_no_cuda_reason()}; the only device "
                          "here is cpu: use --device cpu or --device auto")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DeviceError(f"LOCAL_RANK={local_rank} but only {count} CUDA device(s) are visible "
                          f"(cuda:0 to cuda:{count - 1}); start at most {count} process(es) per node")
    return torch.device("cuda", local_rank)


def init_distributed(device: str = "auto", timeout_minutes: float = 30.0) -> DistEnv:
    """Read the launcher's environment, pick the device and join the process group.

    Returns a world of one (no process group) when ``WORLD_SIZE`` is unset or 1.
    """
    rank, world_size, local_rank = launcher_ranks()
    dev = select_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not tdist.is_initialized():
        join_process_group(dev, rank, world_size, timeout_minutes)
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def join_process_group(device: torch.device, rank: int, world_size: int, timeout_minutes: float = 30.0,
                       init_method: str | None = None) -> None:
    """Create the default process group: NCCL bound to ``device`` on CUDA, gloo on CPU.

    ``init_method`` defaults to the launcher's ``env://`` rendezvous (``MASTER_ADDR``/``PORT``).
    """
    backend = "nccl" if device.type == "cuda" else "gloo"
    extra: dict[str, Any] = {}  # bind NCCL to this device up front where torch supports it (>= 2.3)
    if device.type == "cuda" and "device_id" in inspect.signature(tdist.init_process_group).parameters:
        extra["device_id"] = device
    tdist.init_process_group(backend=backend, init_method=init_method, rank=rank, world_size=world_size,
                             timeout=timedelta(minutes=timeout_minutes), **extra)


def shutdown(env: DistEnv) -> None:
    """Leave the process group (if one was created)."""
    if env.distributed and tdist.is_initialized():
        tdist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op in a world of one)."""
    if env.distributed:
        tdist.barrier()


def all_reduce(value: torch.Tensor, env: DistEnv, op: str = "sum") -> torch.Tensor:
    """``value`` reduced over ranks (``sum``, ``min``, ``max`` or ``mean``); a new tensor."""
    out = value.clone()
    if env.distributed:
        reduce_op = {"sum": tdist.ReduceOp.SUM, "mean": tdist.ReduceOp.SUM,
                     "min": tdist.ReduceOp.MIN, "max": tdist.ReduceOp.MAX}[op]
        tdist.all_reduce(out, op=reduce_op)
        if op == "mean":
            out = out / env.world_size
    return out


def broadcast_module(module: torch.nn.Module, env: DistEnv) -> None:
    """Copy every parameter and buffer of ``module`` from rank 0 to all ranks, in place."""
    if not env.distributed:
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            tdist.broadcast(tensor.data, src=0)
