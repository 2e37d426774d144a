"""Temporal crop: the official random temporal shift, or the paper-style crop-and-resize."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.sampling import integers, uniform
from actclr.augment.temporal import resample_linear, take_frames

CROP_MODES = ("shift", "resize")
PADDINGS = ("symmetric", "edge")


def _padded_index(frame: Tensor, frames: int, padding: str) -> Tensor:
    """Map frame indices in ``[-pad, T + pad)`` of the padded sequence to frames of ``[0, T)``."""
    if padding == "edge":
        return frame.clamp(0, frames - 1)
    mirrored = torch.where(frame < 0, -frame - 1, frame)
    return torch.where(mirrored >= frames, 2 * frames - 1 - mirrored, mirrored)


def temporal_crop(x: Tensor, g: torch.Generator, pad: int = 8, mode: str = "shift",
                  padding: str = "symmetric", ratio: tuple[float, float] = (0.5, 1.0)) -> Tensor:
    """Random temporal crop of every sequence, with per-sample offsets.

    ``mode='shift'`` (default, the official ``temperal_crop``): pad ``pad`` frames at each end,
    then take ``T`` frames at an offset uniform in ``[0, 2 * pad]``, i.e. a random shift of up to
    ``pad`` frames with no rescaling. ``padding='symmetric'`` (official) mirrors the edge frames
    with the edge frame repeated (``x2 x1 x0 | x0 x1 ...``); ``'edge'`` repeats the edge frame.
    ``mode='resize'`` (paper-style crop-and-resize): keep ``floor(r * T)`` consecutive frames,
    ``r ~ U(ratio)``, at a uniform start, and resize them linearly back to ``T`` frames.

    The shift is the default because the official views and the published numbers use it.
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M).
    """
    check_batch(x, "temporal_crop")
    n, frames = x.shape[0], x.shape[2]
    if mode == "shift":
        if padding not in PADDINGS:
            raise ValueError(f"temporal_crop: padding must be one of {PADDINGS}, got {padding!r}")
        if not 0 <= pad <= frames:
            raise ValueError(f"temporal_crop: pad must lie in [0, T={frames}], got {pad}")
        offset = integers(g, n, 0, 2 * pad, x.device)
        frame = offset[:, None] - pad + torch.arange(frames, device=x.device)
        return take_frames(x, _padded_index(frame, frames, padding))
    if mode == "resize":
        low, high = ratio
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"temporal_crop: ratio must satisfy 0 < min <= max <= 1, got {ratio}")
        r = uniform(g, (n,), x, low, high).double()
        length = (r * frames).floor().long().clamp(1, frames)
        start = integers(g, n, 0, frames - length, x.device)
        return resample_linear(x, start, length, torch.full_like(length, frames))
    raise ValueError(f"temporal_crop: mode must be one of {CROP_MODES}, got {mode!r}")
