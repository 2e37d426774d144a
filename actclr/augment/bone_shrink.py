"""Bone shrink: scale every bone by a random factor, rebuilding from the root."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.coords import apply_joint_matrix
from actclr.augment.effects import AxisMap, Effect, transform_of
from actclr.augment.indexing import check_batch
from actclr.augment.sampling import uniform
from actclr.augment.tree import bone_scaling_matrix


def bone_shrink_effects(x: Tensor, g: torch.Generator, scale: float = 0.5) -> tuple[Effect, ...]:
    """Per sample and bone, scale the bone by ``scale * U(0, 1)`` (one draw per bone, shared by
    all frames and bodies), walking ``TREE_ORDER`` from the root, so every bone ends up 0-50 %
    of its length at the official ``scale=0.5``. Linear in the joints: one ``(V, V)`` matrix per
    sample. ``x`` (N, 3, T, V=25, M) -> (N, 3, T, V, M); a joint map (:class:`AxisMap`).
    """
    check_batch(x, "bone_shrink", joints=True)
    matrix = bone_scaling_matrix(uniform(g, (x.shape[0], x.shape[3]), x) * scale)
    return (AxisMap(apply_joint_matrix, (matrix,)),)


bone_shrink = transform_of(bone_shrink_effects)
