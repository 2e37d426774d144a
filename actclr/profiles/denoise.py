"""Body denoising and actor assignment of SGN/CTR-GCN ``get_raw_denoised_data.py``.

Applied to the tracks of :func:`actclr.profiles.tracks.group_by_id` when a sample has more than
one bodyID:

1. length: drop tracks seen in ``<= 11`` frames;
2. spread (only while ``>= 2`` tracks remain, in first-appearance order): a frame is noisy when
   its x-range over the 25 joints exceeds ``0.8 x`` its y-range; a track with a noisy-frame ratio
   ``>= 0.69754`` is dropped, otherwise its motion becomes ``min(motion, motion of its non-noisy
   frames)``;
3. the remaining tracks are sorted by motion, highest first (stable). The motion-range filter of
   the original script is commented out there, so it is not applied here either.

Motion = sum over x, y, z of the variance over all joints and frames of the track (computed in
float64; SGN uses float32, which can only matter for near-ties).
"""
from __future__ import annotations

import numpy as np

from actclr.profiles.tracks import Track
from actclr.skeleton import NUM_BODIES, NUM_COORDS, NUM_JOINTS

#: Tracks seen in this many frames or fewer are noise.
NOISE_LEN_THRES = 11
#: A frame is noisy when its x-range exceeds this times its y-range.
NOISE_SPREAD_RATIO = 0.8
#: A track whose fraction of noisy frames reaches this is noise.
NOISE_SPREAD_RATE = 0.69754


def motion(joints: np.ndarray) -> float:
    """Sum over xyz of the variance of ``joints (n, 25, 3)`` over all joints and frames."""
    coords = joints.reshape(-1, NUM_COORDS).T.astype(np.float64)  # (3, n * 25), rows contiguous
    return float(coords.var(axis=1).sum())


def noisy_frames(joints: np.ndarray) -> np.ndarray:
    """Bool ``(n,)``: frames of ``joints (n, 25, 3)`` wider (x-range) than ``0.8 x`` their y-range."""
    xy = np.ascontiguousarray(joints[:, :, :2].transpose(0, 2, 1))  # (n, 2, 25): fast reductions
    span = xy.max(axis=2) - xy.min(axis=2)
    return span[:, 0] > NOISE_SPREAD_RATIO * span[:, 1]


def rank_bodies(tracks: list[Track], key: str) -> list[Track]:
    """Length and spread filters, then sort by motion (highest first); for multi-ID samples.

    Raises ``ValueError`` naming ``key`` when no track survives (the original script crashes).
    """
    kept = [tr for tr in tracks if tr.frames.size > NOISE_LEN_THRES]
    if not kept:
        raise ValueError(f"{key}: every bodyID is seen in <= {NOISE_LEN_THRES} frames (all denoised away)")
    motions = {tr.body_id: motion(tr.joints) for tr in kept}
    if len(kept) > 1:
        for tr in list(kept):
            if len(kept) == 1:
                break
            noisy = noisy_frames(tr.joints)
            if not noisy.any():
                continue
            if noisy.mean() >= NOISE_SPREAD_RATE:
                kept.remove(tr)
            else:
                motions[tr.body_id] = min(motions[tr.body_id], motion(tr.joints[~noisy]))
    return sorted(kept, key=lambda tr: motions[tr.body_id], reverse=True)


def _disjoint(start: int, end: int, other_start: int, other_end: int) -> bool:
    """SGN's overlap test: intervals sharing only an end frame count as disjoint."""
    return min(other_end, end) - max(other_start, start) <= 0


def assign_actors(ranked: list[Track], num_frames: int) -> np.ndarray:
    """Place ranked tracks into two actors ``(num_frames, 2, 25, 3)`` float32.

    The first track is actor 1. Each next track joins actor 1 if its interval does not overlap
    actor 1's (which then grows to cover it), else actor 2 under the same test against actor 2's
    interval (which starts as the virtual ``[0, 0]``, so its start stays 0), else it is discarded.
    Later tracks overwrite shared frames, as in the original.
    """
    actors = np.zeros((num_frames, NUM_BODIES, NUM_JOINTS, NUM_COORDS), dtype=np.float32)
    head, rest = ranked[0], ranked[1:]
    actors[head.frames, 0] = head.joints
    spans = [[head.start, head.end], [0, 0]]
    for tr in rest:
        for slot, span in enumerate(spans):
            if _disjoint(tr.start, tr.end, *span):
                actors[tr.frames, slot] = tr.joints
                span[:] = [min(span[0], tr.start), max(span[1], tr.end)]
                break
    return actors
