"""Where this process sits among the ranks of a job: the one reader of ``torch.distributed``'s
rank and world size and of the launcher's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``.

A plain ``python`` run is rank 0 of a world of one. Joining the process group is
:func:`actclr.engine.dist.init_distributed`'s job; the loader and the methods only ask here.
"""
from __future__ import annotations

import os

import torch.distributed as dist


def grouped() -> bool:
    """True when a default process group is initialised (of any size)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of ranks of the default process group (1 when not distributed)."""
    return dist.get_world_size() if grouped() else 1


def rank() -> int:
    """This process's rank in the default process group (0 when not distributed)."""
    return dist.get_rank() if grouped() else 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def launcher_ranks() -> tuple[int, int, int]:
    """``(RANK, WORLD_SIZE, LOCAL_RANK)`` set by ``torchrun`` (or any launcher); ``(0, 1, 0)`` unset."""
    ranks = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0)
    if not 0 <= ranks[0] < ranks[1]:
        raise ValueError(f"RANK={ranks[0]} is outside WORLD_SIZE={ranks[1]}")
    return ranks


def current_ranks() -> tuple[int, int]:
    """``(rank, world size)``: of the process group if one is initialised, else the launcher's."""
    if grouped():
        return rank(), world_size()
    return launcher_ranks()[:2]
