"""Input streams derived from joint positions: joint, motion and bone."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.indexing import check_batch
from actclr.augment.tree import bone_vectors
from actclr.constants import STREAMS

__all__ = ["STREAMS", "to_stream"]


def to_stream(x: Tensor, stream: str) -> Tensor:
    """Convert joint positions ``x`` (N, C, T, V, M) to ``stream`` (same shape).

    ``joint``: ``x`` itself; ``motion``: ``m[:, :, t] = x[:, :, t+1] - x[:, :, t]``, last frame 0;
    ``bone``: ``b_v = x_v - x_parent(v)`` (``actclr.skeleton.PARENTS``; the centre's bone is 0).
    """
    check_batch(x, "to_stream", joints=stream == "bone")
    if stream == "joint":
        return x
    if stream == "motion":
        return torch.cat([x[:, :, 1:] - x[:, :, :-1], torch.zeros_like(x[:, :, :1])], dim=2)
    if stream == "bone":
        return bone_vectors(x)
    raise ValueError(f"to_stream: stream must be one of {STREAMS}, got {stream!r}")
