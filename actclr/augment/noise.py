"""Additive Gaussian noise."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.effects import AddNoise, Effect, transform_of
from actclr.augment.indexing import check_batch, chosen_rows
from actclr.augment.sampling import gate


def gaussian_noise_effects(x: Tensor, g: torch.Generator, std: float = 0.01,
                           p: float = 0.5) -> tuple[Effect, ...]:
    """With probability ``p`` per sample, add i.i.d. ``N(0, std^2)`` to every coordinate
    (including an all-zero second body, as in the official code). Official ``std``: 0.01 in the
    normal view, 0.05 in the extreme view. Noise is drawn only for the gated samples (half the
    cost at ``p=0.5``). ``x`` (N, C, T, V, M) -> (N, C, T, V, M); one :class:`AddNoise`.
    """
    check_batch(x, "gaussian_noise")
    rows = chosen_rows(gate(g, x.shape[0], p, x.device))
    noise = torch.randn((rows.numel(),) + tuple(x.shape[1:]), generator=g, device=x.device, dtype=x.dtype)
    return (AddNoise(rows, noise, std),)


gaussian_noise = transform_of(gaussian_noise_effects)
