"""Additive Gaussian noise."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.sampling import gate


def gaussian_noise(x: Tensor, g: torch.Generator, std: float = 0.01, p: float = 0.5) -> Tensor:
    """With probability ``p`` per sample, add i.i.d. ``N(0, std^2)`` to every coordinate
    (including an all-zero second body, as in the official code). Official ``std``: 0.01 in the
    normal view, 0.05 in the extreme view. Noise is drawn only for the gated samples (half the
    cost at ``p=0.5``; on CUDA this reads the gate count, one small host sync).
    ``x`` (N, C, T, V, M) -> (N, C, T, V, M).
    """
    check_batch(x, "gaussian_noise")
    chosen = gate(g, x.shape[0], p, x.device).nonzero().squeeze(1)
    noise = torch.randn((chosen.numel(),) + tuple(x.shape[1:]), generator=g, device=x.device, dtype=x.dtype)
    return x.index_add(0, chosen, noise, alpha=std)
