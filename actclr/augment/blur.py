"""Temporal Gaussian blur with a per-sample kernel."""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from actclr.augment.effects import AxisMap, Effect, transform_of
from actclr.augment.indexing import check_batch, chosen_rows
from actclr.augment.sampling import gate, uniform

BLUR_PADDINGS = ("edge", "zeros")


def _filter(x: Tensor, kernel: Tensor, padding: str) -> Tensor:
    """Filter sample ``i`` of ``x`` (K, C, T, V, M) along time with ``kernel[i]`` (K, taps): one
    grouped convolution with one kernel per sample. Returns a new (K, C, T, V, M)."""
    n, c, frames, v, m = x.shape
    radius = kernel.shape[1] // 2
    signal = x.reshape(1, n * c, frames, v * m)
    if padding == "edge":
        first = signal[:, :, :1].expand(-1, -1, radius, -1)
        last = signal[:, :, -1:].expand(-1, -1, radius, -1)
        signal = torch.cat([first, signal, last], dim=2)
    weight = kernel.repeat_interleave(c, dim=0)[:, None, :, None]
    out = F.conv2d(signal, weight, padding=(radius, 0) if padding == "zeros" else 0, groups=n * c)
    return out.view(x.shape)


def gaussian_blur_effects(x: Tensor, g: torch.Generator, taps: int = 15,
                          sigma: tuple[float, float] = (0.1, 2.0), p: float = 0.5,
                          normalize: bool = True, padding: str = "edge") -> tuple[Effect, ...]:
    """With probability ``p`` per sample, filter every channel along time with the kernel
    ``w_k = exp(-k^2 / (2 sigma^2))``, ``k in [-taps//2, taps//2]``, ``sigma ~ U(sigma)``.

    ``normalize=True`` (default) divides the kernel by its sum, a true low-pass filter.
    ``normalize=False`` is the official (AimCLR-inherited) unnormalised kernel, which also scales
    the signal by the kernel sum (up to ~5x at sigma=2). ``padding='edge'`` (default) repeats the
    edge frames so a constant sequence stays constant; ``'zeros'`` is the official zero padding.
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M); a frame map of the gated samples (:class:`AxisMap`).
    """
    check_batch(x, "gaussian_blur")
    if taps < 1 or taps % 2 == 0:
        raise ValueError(f"gaussian_blur: taps must be a positive odd number, got {taps}")
    if padding not in BLUR_PADDINGS:
        raise ValueError(f"gaussian_blur: padding must be one of {BLUR_PADDINGS}, got {padding!r}")
    radius = taps // 2
    chosen = gate(g, x.shape[0], p, x.device)
    s = uniform(g, (x.shape[0], 1), x, *sigma)
    rows = chosen_rows(chosen)
    k = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-k.square() / (2 * s.index_select(0, rows).square()))
    if normalize:
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
    return (AxisMap(partial(_filter, padding=padding), (kernel,), rows),)


gaussian_blur = transform_of(gaussian_blur_effects)
