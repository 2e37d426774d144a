"""Speed resampling: play the sequence faster or slower, keeping ``T`` frames."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.effects import AxisMap, Effect, transform_of
from actclr.augment.indexing import check_batch, chosen_rows
from actclr.augment.sampling import gate, uniform
from actclr.augment.temporal import resample_linear


def speed_resample_effects(x: Tensor, g: torch.Generator, factor: tuple[float, float] = (0.5, 1.5),
                           p: float = 0.5) -> tuple[Effect, ...]:
    """With probability ``p`` per sample, resize the ``T`` frames to ``floor(T * f)`` frames
    (linear, ``f ~ U(factor)``), then truncate or zero-pad the tail back to ``T`` (official
    ``interpolate``: ``f < 1`` speeds the action up and leaves trailing zero frames).
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M); a frame map of the gated samples (:class:`AxisMap`).
    """
    check_batch(x, "speed_resample")
    n, frames = x.shape[0], x.shape[2]
    chosen = gate(g, n, p, x.device)
    f = uniform(g, (n,), x, *factor).double()
    rows = chosen_rows(chosen)
    length = (f.index_select(0, rows) * frames).floor().long().clamp(min=1)
    params = (torch.zeros_like(length), torch.full_like(length, frames), length)
    return (AxisMap(resample_linear, params, rows),)


speed_resample = transform_of(speed_resample_effects)
