"""Axis mask: zero one coordinate for the whole sequence."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.effects import CoordMap, Effect, transform_of
from actclr.augment.indexing import check_batch
from actclr.augment.sampling import gate, integers


def axis_mask_effects(x: Tensor, g: torch.Generator, p: float = 0.5) -> tuple[Effect, ...]:
    """With probability ``p`` per sample, set one of x, y, z (chosen uniformly) to 0 in every
    frame, joint and body. ``x`` (N, 3, T, V, M) -> (N, 3, T, V, M); one diagonal :class:`CoordMap`.
    """
    check_batch(x, "axis_mask")
    n = x.shape[0]
    chosen = gate(g, n, p, x.device)
    axis = integers(g, n, 0, 2, x.device)
    hit = torch.nn.functional.one_hot(axis, 3).bool() & chosen[:, None]
    return (CoordMap(torch.diag_embed((~hit).to(x.dtype))),)


axis_mask = transform_of(axis_mask_effects)
