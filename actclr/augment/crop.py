"""Temporal crop: the official random temporal shift, or the paper-style crop-and-resize."""
from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from actclr.augment.effects import AxisMap, Effect, transform_of
from actclr.augment.indexing import check_batch
from actclr.augment.sampling import integers, uniform
from actclr.augment.temporal import resample_linear, take_frames

CROP_MODES = ("shift", "resize")
PADDINGS = ("symmetric", "edge")


@cache
def _shift_table(frames: int, pad: int, padding: str, device: torch.device) -> Tensor:
    """(2 pad + 1, T) long: row ``o`` lists the source frames of the shift by offset ``o``, i.e.
    frames ``o - pad + t`` of the padded sequence mapped back into ``[0, T)``."""
    frame = torch.arange(2 * pad + 1)[:, None] - pad + torch.arange(frames)
    if padding == "edge":
        return frame.clamp(0, frames - 1).to(device)
    mirrored = torch.where(frame < 0, -frame - 1, frame)
    return torch.where(mirrored >= frames, 2 * frames - 1 - mirrored, mirrored).to(device)


def temporal_crop_effects(x: Tensor, g: torch.Generator, pad: int = 8, mode: str = "shift",
                          padding: str = "symmetric",
                          ratio: tuple[float, float] = (0.5, 1.0)) -> tuple[Effect, ...]:
    """Random temporal crop of every sequence, with per-sample offsets.

    ``mode='shift'`` (default, the official ``temperal_crop``): pad ``pad`` frames at each end,
    then take ``T`` frames at an offset uniform in ``[0, 2 * pad]``, i.e. a random shift of up to
    ``pad`` frames with no rescaling. ``padding='symmetric'`` (official) mirrors the edge frames
    with the edge frame repeated (``x2 x1 x0 | x0 x1 ...``); ``'edge'`` repeats the edge frame.
    ``mode='resize'`` (paper-style crop-and-resize): keep ``floor(r * T)`` consecutive frames,
    ``r ~ U(ratio)``, at a uniform start, and resize them linearly back to ``T`` frames.

    The shift is the default because the official views and the published numbers use it.
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M); one frame map (:class:`AxisMap`).
    """
    check_batch(x, "temporal_crop")
    n, frames = x.shape[0], x.shape[2]
    if mode == "shift":
        if padding not in PADDINGS:
            raise ValueError(f"temporal_crop: padding must be one of {PADDINGS}, got {padding!r}")
        if not 0 <= pad <= frames:
            raise ValueError(f"temporal_crop: pad must lie in [0, T={frames}], got {pad}")
        offset = integers(g, n, 0, 2 * pad, x.device)
        index = _shift_table(frames, pad, padding, x.device).index_select(0, offset)
        return (AxisMap(take_frames, (index,)),)
    if mode == "resize":
        low, high = ratio
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"temporal_crop: ratio must satisfy 0 < min <= max <= 1, got {ratio}")
        r = uniform(g, (n,), x, low, high).double()
        length = (r * frames).floor().long().clamp(1, frames)
        start = integers(g, n, 0, frames - length, x.device)
        return (AxisMap(resample_linear, (start, length, torch.full_like(length, frames))),)
    raise ValueError(f"temporal_crop: mode must be one of {CROP_MODES}, got {mode!r}")


temporal_crop = transform_of(temporal_crop_effects)
