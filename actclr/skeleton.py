"""The 25-joint Kinect v2 skeleton shared by NTU RGB+D and PKU-MMD.

All indices here are 0-based (official joint number minus one). Tensors elsewhere in the
package use the layout ``(N, C=3, T, V=25, M=2)``.
"""
from __future__ import annotations

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
