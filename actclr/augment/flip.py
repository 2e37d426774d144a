"""Spatial (left/right) flip."""
from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from actclr.augment.effects import AxisMap, CoordMap, Effect, transform_of
from actclr.augment.indexing import check_batch, chosen_rows, select_joints
from actclr.augment.sampling import gate
from actclr.skeleton import FLIP_PERMUTATION


def spatial_flip_effects(x: Tensor, g: torch.Generator, p: float = 0.5, mirror: bool = False,
                         axis: int = 0) -> tuple[Effect, ...]:
    """With probability ``p`` per sample, swap left and right joints (``FLIP_PERMUTATION``).

    ``mirror=False`` (default, official) only relabels the joints: the geometry is unchanged and
    the left limbs take the right limbs' trajectories. ``mirror=True`` also negates coordinate
    ``axis`` (x by default), which makes the result the true mirror image of the body. The default
    follows the official code for parity with the published results. Both are involutions.
    ``x`` (N, 3, T, V=25, M) -> (N, 3, T, V, M); a joint map of the flipped samples
    (:class:`AxisMap`), preceded by a sign flip (:class:`CoordMap`) if ``mirror``.
    """
    check_batch(x, "spatial_flip", joints=True)
    n = x.shape[0]
    chosen = gate(g, n, p, x.device)
    relabelled = AxisMap(partial(select_joints, joints=FLIP_PERMUTATION), rows=chosen_rows(chosen))
    if not mirror:
        return (relabelled,)
    sign = torch.ones(n, 3, device=x.device, dtype=x.dtype)
    sign[:, axis] = 1 - 2 * chosen.to(x.dtype)
    return CoordMap(torch.diag_embed(sign)), relabelled


spatial_flip = transform_of(spatial_flip_effects)
