"""Spatial (left/right) flip."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch, joint_columns
from actclr.augment.sampling import gate
from actclr.skeleton import FLIP_PERMUTATION, NUM_JOINTS


def spatial_flip(x: Tensor, g: torch.Generator, p: float = 0.5, mirror: bool = False,
                 axis: int = 0) -> Tensor:
    """With probability ``p`` per sample, swap left and right joints (``FLIP_PERMUTATION``).

    ``mirror=False`` (default, official) only relabels the joints: the geometry is unchanged and
    the left limbs take the right limbs' trajectories. ``mirror=True`` also negates coordinate
    ``axis`` (x by default), which makes the result the true mirror image of the body. The default
    follows the official code for parity with the published results. Both are involutions.
    ``x`` (N, 3, T, V=25, M) -> (N, 3, T, V, M).
    """
    check_batch(x, "spatial_flip", joints=True)
    n, c, t, v, m = x.shape
    chosen = gate(g, n, p, x.device)
    flip = joint_columns(FLIP_PERMUTATION, m, x.device)
    columns = torch.where(chosen[:, None], flip, torch.arange(NUM_JOINTS * m, device=x.device))
    flat = x.reshape(n, c * t, v * m)
    out = flat.gather(2, columns[:, None, :].expand(n, c * t, v * m)).view(x.shape)
    if mirror:
        sign = torch.ones(n, c, device=x.device, dtype=x.dtype)
        sign[:, axis] = torch.where(chosen, -1.0, 1.0).to(x.dtype)
        out.mul_(sign[:, :, None, None, None])
    return out
