"""Speed resampling: play the sequence faster or slower, keeping ``T`` frames."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.sampling import gate, uniform
from actclr.augment.temporal import resample_linear


def speed_resample(x: Tensor, g: torch.Generator, factor: tuple[float, float] = (0.5, 1.5),
                   p: float = 0.5) -> Tensor:
    """With probability ``p`` per sample, resize the ``T`` frames to ``floor(T * f)`` frames
    (linear, ``f ~ U(factor)``), then truncate or zero-pad the tail back to ``T`` (official
    ``interpolate``: ``f < 1`` speeds the action up and leaves trailing zero frames).
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M).
    """
    check_batch(x, "speed_resample")
    n, frames = x.shape[0], x.shape[2]
    chosen = gate(g, n, p, x.device)
    f = uniform(g, (n,), x, *factor).double()
    length = torch.where(chosen, (f * frames).floor().long().clamp(min=1), frames)
    zero = torch.zeros_like(length)
    return resample_linear(x, zero, torch.full_like(length, frames), length)
