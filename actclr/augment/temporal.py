"""Per-sample frame gathering and linear time resampling for ``(N, C, T, V, M)`` batches."""
from __future__ import annotations

import torch
from torch import Tensor


def take_frames(x: Tensor, idx: Tensor, rows: Tensor | None = None) -> Tensor:
    """Gather frames per sample: ``out[n, :, t] = x[rows[n], :, idx[n, t]]``.

    ``x`` (N, C, T, V, M), ``idx`` (N, T') long in ``[0, T)``, ``rows`` (N,) long (default: each
    sample itself). Returns a contiguous (N, C, T', V, M); one ``index_select`` of whole frames.
    """
    n, c, frames, v, m = x.shape
    if rows is None:
        rows = torch.arange(n, device=x.device)
    channel = (rows[:, None] * c + torch.arange(c, device=x.device)) * frames
    flat = (channel[:, :, None] + idx[:, None, :]).reshape(-1)
    return x.reshape(-1, v * m).index_select(0, flat).view(n, c, idx.shape[1], v, m)


def resample_linear(x: Tensor, start: Tensor, src_len: Tensor, dst_len: Tensor) -> Tensor:
    """Resize a per-sample window of frames to a per-sample length, keeping ``T`` frames.

    Output frame ``t < dst_len[n]`` is frame ``t`` of ``x[n, :, start:start+src_len]`` linearly
    resized to ``dst_len[n]`` frames with half-pixel centres (as OpenCV ``INTER_LINEAR`` and
    ``F.interpolate(align_corners=False)``); frames ``t >= dst_len[n]`` are zero.
    ``x`` (N, C, T, V, M); ``start``, ``src_len``, ``dst_len`` (N,) long. Returns (N, C, T, V, M).
    """
    n, c, frames, v, m = x.shape
    t = torch.arange(frames, device=x.device, dtype=torch.float64)
    src = src_len.double()[:, None]
    pos = (t + 0.5) * (src / dst_len.double()[:, None]) - 0.5
    pos = torch.minimum(pos.clamp(min=0.0), src - 1) + start.double()[:, None]
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=frames - 1)
    valid = t[None, :] < dst_len.double()[:, None]
    w_hi = ((pos - lo.double()) * valid).to(x.dtype)
    w_lo = valid.to(x.dtype) - w_hi
    pairs = take_frames(x, torch.cat([lo, hi], dim=1)).view(n, c, 2, frames, v * m)
    out = pairs[:, :, 0] * w_lo[:, None, :, None]
    return out.addcmul_(pairs[:, :, 1], w_hi[:, None, :, None]).view(n, c, frames, v, m)
