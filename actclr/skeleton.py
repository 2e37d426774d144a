"""The 25-joint Kinect v2 skeleton shared by NTU RGB+D and PKU-MMD.

All indices here are 0-based (official joint number minus one). Tensors elsewhere in the
package use the layout ``(N, C=3, T, V=25, M=2)``. :class:`RawSkeleton` is one sample as a raw
parser (``actclr.pipelines``) produces it and a profile (``actclr.profiles``) reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_JOINTS = 25
NUM_BODIES = 2
NUM_COORDS = 3

JOINT_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)

#: Joint 21 (spine shoulder): the graph centre and the stgcn50 origin.
CENTER = 20
#: Joint 2 (spine middle): the sgn origin.
SPINE_MID = 1
LEFT_SHOULDER, RIGHT_SHOULDER = 4, 8

#: The 24 undirected edges as (child, parent), pointing toward the centre (st-gcn "ntu-rgb+d").
EDGES = tuple((c - 1, p - 1) for c, p in (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
))

#: Parent of every joint for bone vectors; the centre is its own parent (zero bone).
PARENTS = tuple(dict(EDGES + ((CENTER, CENTER),))[j] for j in range(NUM_JOINTS))

#: Joints ordered so that every parent precedes its children (root first), for tree walks.
TREE_ORDER = tuple(j - 1 for j in (
    21, 2, 3, 9, 5, 1, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 23, 22, 25, 24,
))

#: Left/right relabelling used by spatial flip (official order: 1-4, 9-12, 5-8, 17-20, 13-16, 21, 24, 25, 22, 23).
FLIP_PERMUTATION = tuple(j - 1 for j in (
    1, 2, 3, 4, 9, 10, 11, 12, 5, 6, 7, 8, 17, 18, 19, 20, 13, 14, 15, 16, 21, 24, 25, 22, 23,
))

#: The five body parts of the official actionlet smoothing and Skeleton Mix (cover all 25 joints).
BODY_PARTS = (
    tuple(j - 1 for j in (4, 3, 21, 2, 1)),            # trunk and head
    tuple(j - 1 for j in (9, 10, 11, 12, 24, 25)),     # right arm
    tuple(j - 1 for j in (5, 6, 7, 8, 22, 23)),        # left arm
    tuple(j - 1 for j in (17, 18, 19, 20)),            # right leg
    tuple(j - 1 for j in (13, 14, 15, 16)),            # left leg
)

#: One frame of a stored raw sequence ``(M, V, C)``: two body slots of 25 joints x, y, z.
FRAME_SHAPE = (NUM_BODIES, NUM_JOINTS, NUM_COORDS)


def ready_shape(frames: int) -> tuple[int, int, int, int]:
    """The model layout ``(C, T, V, M)`` of one normalized sample of ``frames`` frames."""
    return (NUM_COORDS, frames, NUM_JOINTS, NUM_BODIES)


@dataclass
class RawSkeleton:
    """One sample as read from a raw file, before any normalization.

    - ``key``: sample name (``S001C001P001R001A001``, ``A10N08-L_003``).
    - ``xyz``: ``(T, S, 25, 3)`` float32 camera-space metres; body slot ``s`` of frame ``t`` is the
      ``s``-th body listed in that frame (file order), zeros where the frame has fewer bodies.
      ``S`` is the largest body count of any frame; a file whose frames all list 0 bodies has
      ``S == 0`` (and keeps its ``T`` frames).
    - ``body_ids``: ``(T, S)`` uint64 tracking IDs (0 = empty slot). PKU-MMD has no IDs: its two
      columns get IDs 1 and 2 where the body is non-zero.
    - ``meta``: per-format fields (NTU: ``setup camera subject replication label``; PKU-MMD:
      ``label video start end camera subject``), ``label`` 0-based.
    """

    key: str
    xyz: np.ndarray
    body_ids: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def num_bodies(self) -> int:
        """Distinct non-zero body IDs seen in the sample."""
        ids = np.unique(self.body_ids)
        return int(np.count_nonzero(ids))

    @property
    def is_empty(self) -> bool:
        """True when no frame holds a body ("no skeleton" files, 0-frame files)."""
        return not bool(np.any(self.body_ids))
