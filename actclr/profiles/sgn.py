"""``sgn``: the SGN / CTR-GCN preprocessing (``get_raw_skes_data`` -> ``get_raw_denoised_data`` ->
``seq_transformation``), resized to a fixed length.

1. 0-body frames are dropped; bodies are grouped by bodyID (:mod:`actclr.profiles.tracks`);
2. with more than one ID: length/spread denoising, motion ranking and the two-actor assignment
   (:mod:`actclr.profiles.denoise`), then frames where both actors are all zero are removed;
3. translation: joint 2 of actor 1 in its first non-zero frame is subtracted from every joint of
   both actors; frames where an actor is absent are set back to zero. No rotation, no scaling;
4. (our addition, so that every sample has ``frames`` steps like the CTR-GCN feeders' resize)
   all kept frames are resized to ``frames`` with the OpenCV-compatible linear formula;
5. a single actor's second body is zeros (NTU60 script) or, with ``duplicate_single_actor=True``,
   a copy of the first (NTU120 script). A sample is single-actor when one ID remains.

PKU-MMD clips work too: their two columns are the IDs 1 and 2 (0 where a column is empty).
``bodies`` holds the two actors in camera space over the kept frames (so ``T'`` can be shorter
than the file); the duplicate of a single actor is only in ``ready``.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from actclr.profiles.base import Prepared, Profile, check_raw, to_ready
from actclr.profiles.denoise import (
    NOISE_LEN_THRES,
    NOISE_SPREAD_RATE,
    NOISE_SPREAD_RATIO,
    assign_actors,
    rank_bodies,
)
from actclr.profiles.resample import linear_resize
from actclr.profiles.tracks import group_by_id
from actclr.skeleton import SPINE_MID, RawSkeleton


def translate(actors: np.ndarray) -> np.ndarray:
    """SGN ``seq_translation`` of ``actors (T, 2, 25, 3)``: origin = actor 1's joint 2 in its first
    non-zero frame; absent (all-zero) actor frames stay zero."""
    present = np.any(actors != 0, axis=(2, 3))  # (T, 2)
    origin = actors[np.argmax(present[:, 0]), 0, SPINE_MID]
    return np.where(present[:, :, None, None], actors - origin, np.float32(0))


@dataclasses.dataclass(frozen=True)
class Sgn(Profile):
    """SGN/CTR-GCN denoised bodies; see the module docstring.

    Parameters: ``frames``, ``duplicate_single_actor``, ``packed_intervals``.
    """

    name: ClassVar[str] = "sgn"
    FIXED: ClassVar[dict] = {
        "origin_joint": SPINE_MID + 1,
        "bodies": "body_id_denoised",
        "noise_len_thres": NOISE_LEN_THRES,
        "noise_spread_ratio": NOISE_SPREAD_RATIO,
        "noise_spread_rate": NOISE_SPREAD_RATE,
    }
    duplicate_single_actor: bool = False
    packed_intervals: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for field in ("duplicate_single_actor", "packed_intervals"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"profile sgn: {field} must be a bool, got {getattr(self, field)!r}")

    def apply(self, raw: RawSkeleton) -> Prepared:
        """``raw.xyz (T, S, 25, 3)`` -> ``bodies (T', 2, 25, 3)``, ``ready (3, frames, 25, 2)``."""
        xyz, ids = check_raw(raw)
        tracks, num_frames = group_by_id(xyz, ids, packed=self.packed_intervals)
        if not tracks:
            raise ValueError(f"{raw.key}: no body in any frame (nothing to normalize)")
        ranked = rank_bodies(tracks, raw.key) if len(tracks) > 1 else tracks
        bodies = assign_actors(ranked, num_frames)
        if len(tracks) > 1:
            bodies = bodies[np.any(bodies != 0, axis=(1, 2, 3))]
            if bodies.shape[0] == 0:
                raise ValueError(f"{raw.key}: the selected actors are all zero (nothing to normalize)")
        seq = linear_resize(translate(bodies), self.frames)
        if self.duplicate_single_actor and len(ranked) == 1:
            seq[:, 1] = seq[:, 0]
        return Prepared(bodies=bodies, ready=to_ready(seq))
