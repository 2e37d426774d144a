"""Shape checks, joint selection and gate selection shared by the batched transforms."""
from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from actclr.skeleton import NUM_COORDS, NUM_JOINTS


def check_batch(x: Tensor, who: str, joints: bool = False) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating ``(N, C=3, T, V, M)`` batch.

    ``joints=True`` also requires the 25-joint skeleton (transforms that index joints).
    """
    if x.dim() != 5 or x.shape[1] != NUM_COORDS:
        raise ValueError(f"{who}: expected a (N, C=3, T, V, M) tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{who}: expected a floating tensor, got {x.dtype}")
    if joints and x.shape[3] != NUM_JOINTS:
        raise ValueError(f"{who}: expected V={NUM_JOINTS} joints, got shape {tuple(x.shape)}")


@cache
def cached_index(values: tuple[int, ...], device: torch.device) -> Tensor:
    """A long index tensor of ``values`` on ``device``, built once per device."""
    return torch.tensor(values, dtype=torch.long, device=device)


def joint_columns(joints: tuple[int, ...], bodies: int, device: torch.device) -> Tensor:
    """Column indices of ``joints`` in a ``(.., V * M)`` view, all bodies of each joint."""
    return cached_index(tuple(j * bodies + b for j in joints for b in range(bodies)), device)


def select_joints(x: Tensor, joints: tuple[int, ...]) -> Tensor:
    """``x[:, :, :, joints]`` as one ``index_select`` over the ``(V, M)`` columns.

    ``x`` (N, C, T, V, M) -> (N, C, T, len(joints), M), contiguous.
    """
    n, c, t, v, m = x.shape
    cols = joint_columns(tuple(joints), m, x.device)
    return x.reshape(-1, v * m).index_select(1, cols).view(n, c, t, len(joints), m)


def chosen_rows(chosen: Tensor) -> Tensor:
    """(K,) long, sorted: the samples whose (N,) bool gate is set. On CUDA, sizing the result reads
    the gate count (one small host sync); it lets gated transforms skip the other samples."""
    return chosen.nonzero().squeeze(1)
