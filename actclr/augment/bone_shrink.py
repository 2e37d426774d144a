"""Bone shrink: scale every bone by a random factor, rebuilding from the root."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.sampling import uniform
from actclr.augment.tree import ROOT, bones_joint_major, joint_major, rebuild_joint_major, sample_major


def bone_shrink(x: Tensor, g: torch.Generator, scale: float = 0.5) -> Tensor:
    """Per sample and bone, scale the bone by ``scale * U(0, 1)`` (one draw per bone, shared by
    all frames and bodies), walking ``TREE_ORDER`` from the root, so every bone ends up 0-50 %
    of its length at the official ``scale=0.5``. ``x`` (N, 3, T, V=25, M) -> (N, 3, T, V, M).
    """
    check_batch(x, "bone_shrink", joints=True)
    factor = uniform(g, (x.shape[0], x.shape[3]), x) * scale
    y = joint_major(x)
    bones = bones_joint_major(y).mul_(factor.t()[:, None, :, None, None])
    return sample_major(rebuild_joint_major(y[ROOT], bones))
