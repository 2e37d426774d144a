"""Group the body slots of a raw sample by bodyID (the SGN/CTR-GCN ``get_raw_skes_data`` step).

Frames without any body are dropped first, so frame positions are indices into the remaining
"valid" frames. Tracks come in the order their ID first appears in the file (frame by frame, slot
by slot), which is the iteration order the SGN denoising relies on.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Track:
    """One bodyID: ``frames (n,)`` int64 valid-frame positions, ``joints (n, 25, 3)`` float32."""

    body_id: int
    frames: np.ndarray
    joints: np.ndarray

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        return int(self.frames[-1])


def group_by_id(xyz: np.ndarray, body_ids: np.ndarray, packed: bool = True) -> tuple[list[Track], int]:
    """Split ``xyz (T, S, 25, 3)`` by ``body_ids (T, S)`` (0 = empty slot) into tracks.

    Returns the tracks and the number of valid (non-empty) frames. With ``packed=True`` a track's
    positions are ``first, first + 1, ..., first + n - 1`` whatever frames it really occupies: SGN
    builds the interval as "previous index + 1", so a body that vanishes and comes back is packed
    from its first appearance. ``packed=False`` keeps each frame at its true valid-frame index.
    """
    present = body_ids != 0
    valid = present.any(axis=1)
    valid_index = np.cumsum(valid) - 1
    t, s = np.nonzero(present)  # frame-major, slot-minor: file order
    flat_ids = body_ids[t, s]
    uniq, first = np.unique(flat_ids, return_index=True)
    tracks = []
    for body_id in uniq[np.argsort(first)]:
        sel = flat_ids == body_id
        frames = valid_index[t[sel]]
        if packed:
            frames = frames[0] + np.arange(frames.size)
        tracks.append(Track(int(body_id), frames, xyz[t[sel], s[sel]]))
    return tracks, int(valid.sum())
