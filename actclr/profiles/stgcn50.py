"""``stgcn50``: the preprocessing behind the published ActCLR / AimCLR / CrosSCLR numbers.

Reproduces st-gcn ``tools/ntu_gendata.py`` (and AimCLR's ``pku_part*_gendata.py``) followed by
CrosSCLR ``feeder/preprocess_ntu.py`` (``NTUMotionProcessor`` with ``data_type='relative'``,
``t_length=50``, ``y_rotation=True``, ``sampling='resize'``):

1. bodies: slots 0 and 1 of every frame in file order (no bodyID tracking, no ranking, no
   denoising); 0-body frames stay as zero frames in place;
2. sequences longer than ``max_frames`` (300) are centre-cropped, ``start = (T - 300) // 2``, as the
   PKU-MMD gendata does (NTU files never exceed 300 frames, where st-gcn would fail instead);
3. ``length`` = number of frames in which body 0's joint 1 is non-zero (before centring); the
   FIRST ``length`` frames are used even if zero frames are interspersed (as the official code);
4. centring: joint 21 of the same frame and body is subtracted from every joint of that body;
5. the ``length`` frames of both bodies are resized to ``frames`` (50) with OpenCV's linear formula;
6. ``rotation='y_per_frame'``: per body and frame, rotation about y putting the shoulders on +x
   (see :mod:`actclr.profiles.rotation`); ``'none'`` skips it.

``bodies`` is the two file-order slots at full raw length (not cropped) in camera space.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from actclr.profiles.base import Prepared, Profile, check_raw, to_ready
from actclr.profiles.resample import linear_resize
from actclr.profiles.rotation import align_shoulders_y
from actclr.skeleton import CENTER, NUM_BODIES, RawSkeleton

ROTATIONS = ("y_per_frame", "none")


def first_two_bodies(xyz: np.ndarray) -> np.ndarray:
    """Slots 0 and 1 of ``xyz (T, S, 25, 3)`` as ``(T, 2, 25, 3)`` float32, zero-padded if ``S < 2``."""
    out = np.zeros((xyz.shape[0], NUM_BODIES) + xyz.shape[2:], dtype=np.float32)
    kept = min(xyz.shape[1], NUM_BODIES)
    out[:, :kept] = xyz[:, :kept]
    return out


def center_crop(seq: np.ndarray, max_frames: int) -> np.ndarray:
    """Keep the middle ``max_frames`` frames of ``seq (T, ...)``, ``start = (T - max_frames) // 2``."""
    start = max(0, (seq.shape[0] - max_frames) // 2)
    return seq[start:start + max_frames]


def valid_length(seq: np.ndarray) -> int:
    """Number of frames of ``seq (T, M, 25, 3)`` whose body-0 joint 1 is non-zero."""
    return int(np.count_nonzero(np.any(seq[:, 0, 0] != 0, axis=-1)))


@dataclasses.dataclass(frozen=True)
class Stgcn50(Profile):
    """The default profile; see the module docstring. Parameters: ``frames``, ``max_frames``, ``rotation``."""

    name: ClassVar[str] = "stgcn50"
    FIXED: ClassVar[dict] = {"center_joint": CENTER + 1, "bodies": "file_order"}
    max_frames: int = 300
    rotation: str = "y_per_frame"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_positive_int("max_frames")
        if self.rotation not in ROTATIONS:
            raise ValueError(f"profile stgcn50: rotation must be one of {ROTATIONS}, got {self.rotation!r}")

    def apply(self, raw: RawSkeleton) -> Prepared:
        """``raw.xyz (T, S, 25, 3)`` -> ``bodies (T, 2, 25, 3)``, ``ready (3, frames, 25, 2)``."""
        xyz, _ = check_raw(raw)
        bodies = first_two_bodies(xyz)
        seq = center_crop(bodies, self.max_frames)
        length = valid_length(seq)
        if length == 0:
            raise ValueError(f"{raw.key}: no frame where body 0 has a non-zero joint 1 "
                             "(nothing to normalize)")
        seq = seq[:length] - seq[:length, :, CENTER:CENTER + 1]
        seq = linear_resize(seq, self.frames)
        if self.rotation == "y_per_frame":
            seq = align_shoulders_y(seq)
        return Prepared(bodies=bodies, ready=to_ready(seq))
