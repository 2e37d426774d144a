"""A 25-joint kinematic body (NTU joint order) posed by forward kinematics, vectorised over time.

Body frame: ``x`` = the person's left, ``y`` = up, ``z`` = the direction the person faces (a
right-handed frame); the spine base (joint 0) is the kinematic root. The tree is the one of
``actclr.skeleton.EDGES`` re-rooted at the spine base, so a rotation at a joint moves exactly
the joints below it. Rotations are unit quaternions ``(w, x, y, z)``.
"""
from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from actclr.skeleton import EDGES, FLIP_PERMUTATION, NUM_JOINTS

ROOT = 0

#: Rest pose of a 1.0-scale body in metres, body frame (left, up, forward), root at the origin.
_REST_LEFT_SIDE = {
    4: (0.16, 0.44, -0.02), 5: (0.18, 0.18, -0.02), 6: (0.19, -0.06, 0.00), 7: (0.19, -0.13, 0.01),
    21: (0.19, -0.19, 0.02), 22: (0.17, -0.10, 0.04),
    12: (0.08, -0.04, 0.00), 13: (0.09, -0.44, 0.01), 14: (0.09, -0.83, -0.02), 15: (0.09, -0.88, 0.08),
}
_REST_MIDDLE = {0: (0.0, 0.0, 0.0), 1: (0.0, 0.27, -0.01), 20: (0.0, 0.48, -0.02), 2: (0.0, 0.55, 0.0),
                3: (0.0, 0.68, 0.01)}


@cache
def rest_pose() -> np.ndarray:
    """``(25, 3)`` rest positions; the right side mirrors the left through ``FLIP_PERMUTATION``."""
    pose = np.zeros((NUM_JOINTS, 3))
    for j, p in _REST_MIDDLE.items():
        pose[j] = p
    for j, (x, y, z) in _REST_LEFT_SIDE.items():
        pose[j] = (x, y, z)
        pose[FLIP_PERMUTATION[j]] = (-x, y, z)
    return pose


@cache
def kinematic_tree() -> tuple[tuple, tuple]:
    """``(parents, order)``: parent of each joint in the tree rooted at the spine base (the root is
    its own parent) and a breadth-first order (parents before children)."""
    neighbours: dict[int, set[int]] = {j: set() for j in range(NUM_JOINTS)}
    for a, b in EDGES:
        neighbours[a].add(b)
        neighbours[b].add(a)
    parents, order = {ROOT: ROOT}, [ROOT]
    for j in order:
        for k in sorted(neighbours[j] - parents.keys()):
            parents[k] = j
            order.append(k)
    return tuple(parents[j] for j in range(NUM_JOINTS)), tuple(order)


@cache
def descendants(joint: int) -> frozenset:
    """Joints strictly below ``joint`` in the kinematic tree (what a rotation at it moves)."""
    parents, order = kinematic_tree()
    below = set()
    for j in order:
        if j != ROOT and (parents[j] == joint or parents[j] in below):
            below.add(j)
    return frozenset(below)


@cache
def leaves() -> tuple:
    """Joints without children (the Kinect reports no orientation for them)."""
    parents, _ = kinematic_tree()
    has_children = {parents[j] for j in range(NUM_JOINTS) if j != ROOT}
    return tuple(j for j in range(NUM_JOINTS) if j not in has_children)


def bone_offsets(scale: float, jitter: np.ndarray) -> np.ndarray:
    """``(25, 3)`` offsets of each joint from its parent for a subject of overall ``scale`` and
    per-bone length factors ``jitter (25,)`` (made left/right symmetric here)."""
    parents, _ = kinematic_tree()
    symmetric = (jitter + jitter[list(FLIP_PERMUTATION)]) / 2
    pose = rest_pose()
    return (pose - pose[list(parents)]) * (scale * symmetric)[:, None]


def quat_axis_angle(axis: ArrayLike, angle: ArrayLike) -> np.ndarray:
    """Quaternions ``(..., 4)`` of rotations by ``angle (...)`` radians about unit ``axis (3,)``."""
    half = np.asarray(angle)[..., None] / 2
    return np.concatenate((np.cos(half), np.sin(half) * np.asarray(axis, float)), axis=-1)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` of quaternion arrays ``(..., 4)`` (broadcasting)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack((aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw), axis=-1)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (broadcasting)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2 * _cross(u, v)
    return v + w * t + _cross(u, t)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` over the last axis of length 3, without its per-call axis handling (hot loop)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack((ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx), axis=-1)


def pose_body(offsets: np.ndarray, local: dict, root_q: np.ndarray, root_pos: np.ndarray):
    """Forward kinematics over ``T`` frames.

    ``offsets (25, 3)``: bone vectors in the parent's frame; ``local``: ``{joint: (T, 4)}``
    rotations applied at that joint (moving its descendants); ``root_q (T, 4)`` / ``root_pos
    (T, 3)``: the body frame in the world. Returns ``positions (T, 25, 3)`` and world
    orientations ``(T, 25, 4)``.
    """
    parents, order = kinematic_tree()
    frames = len(root_pos)
    positions = np.empty((frames, NUM_JOINTS, 3))
    orientations = np.empty((frames, NUM_JOINTS, 4))
    positions[:, ROOT] = root_pos
    orientations[:, ROOT] = quat_mul(root_q, local[ROOT]) if ROOT in local else root_q
    for j in order[1:]:
        p = parents[j]
        positions[:, j] = positions[:, p] + quat_rotate(orientations[:, p], offsets[j])
        orientations[:, j] = quat_mul(orientations[:, p], local[j]) if j in local else orientations[:, p]
    return positions, orientations
