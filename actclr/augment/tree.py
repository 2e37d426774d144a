"""Bone vectors and rebuilding joints from the root along the kinematic tree.

Tree walks run in a joint-major layout ``(V, M, N, C, T)``, where selecting joints selects
contiguous rows; one transpose in and one out is much cheaper than column gathers. Rescaling
bones by a per-sample factor (shared by frames and bodies) is linear in the joints, one
``(V, V)`` matrix per sample (:func:`bone_scaling_matrix`).
"""
from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from actclr.augment.indexing import cached_index, select_joints
from actclr.skeleton import NUM_JOINTS, PARENTS, TREE_ORDER

ROOT = TREE_ORDER[0]


def bone_vectors(x: Tensor) -> Tensor:
    """``b_v = x_v - x_parent(v)`` (``actclr.skeleton.PARENTS``); the root's bone is zero.

    ``x`` (N, C, T, V=25, M) -> (N, C, T, V, M).
    """
    return x - select_joints(x, PARENTS)


def joint_major(x: Tensor) -> Tensor:
    """(N, C, T, V, M) -> contiguous (V, M, N, C, T)."""
    n, c, t, v, m = x.shape
    return x.reshape(n * c * t, v * m).t().contiguous().view(v, m, n, c, t)


def sample_major(y: Tensor) -> Tensor:
    """Inverse of :func:`joint_major`: (V, M, N, C, T) -> contiguous (N, C, T, V, M)."""
    v, m, n, c, t = y.shape
    return y.reshape(v * m, n * c * t).t().contiguous().view(n, c, t, v, m)


def bones_joint_major(y: Tensor) -> Tensor:
    """Bone vectors of joint-major joints ``y`` (V=25, M, N, C, T), same layout (a new tensor)."""
    parents = y.index_select(0, cached_index(PARENTS, y.device))
    return torch.sub(y, parents, out=parents)


@cache
def tree_levels() -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """``(joints, their parents)`` per depth 1, 2, ... below the root, from a ``TREE_ORDER`` walk."""
    depth = {ROOT: 0}
    for joint in TREE_ORDER[1:]:
        depth[joint] = depth[PARENTS[joint]] + 1
    levels = []
    for d in range(1, max(depth.values()) + 1):
        joints = tuple(j for j in TREE_ORDER if depth[j] == d)
        levels.append((joints, tuple(PARENTS[j] for j in joints)))
    return tuple(levels)


@cache
def tree_matrices(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """Constant (V, V) matrices of the tree: ``root`` (``root[v, ROOT] = 1``: every joint at the
    root), ``bones`` (``bones @ x`` = the bone vectors of :func:`bone_vectors`) and ``paths``
    (``paths[v, b] = 1`` for every joint ``b != ROOT`` on the way from the root to ``v``, ``v``
    included), so that ``x = (root + paths @ bones) @ x``."""
    root = torch.zeros(NUM_JOINTS, NUM_JOINTS, dtype=torch.float64)
    root[:, ROOT] = 1
    bones = torch.eye(NUM_JOINTS, dtype=torch.float64)
    bones[ROOT, ROOT] = 0
    paths = torch.zeros_like(bones)
    for joint in TREE_ORDER[1:]:
        bones[joint, PARENTS[joint]] = -1
        paths[joint] = paths[PARENTS[joint]]
        paths[joint, joint] = 1
    root, bones, paths = (m.to(device=device, dtype=dtype) for m in (root, bones, paths))
    return root, bones, paths


def bone_scaling_matrix(factor: Tensor) -> Tensor:
    """Per-sample joint matrices ``B`` (N, V, V) rebuilding the skeleton from the root with bone
    ``b`` scaled by ``factor[n, b]``: ``x'_v = x_root + sum_{b on the path to v} f_b (x_b - x_parent(b))``.

    ``factor`` (N, V=25) (the root's entry is unused). Apply with ``coords.apply_joint_matrix``.
    """
    root, bones, paths = tree_matrices(factor.device, factor.dtype)
    return root + (paths * factor[:, None, :]) @ bones


def rebuild_joint_major(root: Tensor, bones: Tensor) -> Tensor:
    """Joints from the root and (possibly rescaled) bones, ``x_v = x_parent(v) + b_v`` walked
    from the root in ``TREE_ORDER``, one vectorised step per tree depth.

    ``root`` (M, N, C, T) root positions, ``bones`` (V=25, M, N, C, T), which is overwritten
    with the result (callers pass a tensor they own). Returns the joints (V, M, N, C, T).
    """
    if bones.shape[0] != NUM_JOINTS:
        raise ValueError(f"rebuild_joint_major: expected V={NUM_JOINTS} joints first, "
                         f"got shape {tuple(bones.shape)}")
    bones[ROOT] = 0
    for joints, parents in tree_levels():
        parent_joints = bones.index_select(0, cached_index(parents, bones.device))
        bones.index_add_(0, cached_index(joints, bones.device), parent_joints)
    return bones.add_(root)
