"""Per-frame rotation about the vertical axis that lines the shoulders up with +x.

This is the ``parallel_skeleton`` step of the CrosSCLR/AimCLR/ActCLR 50-frame data
(``y_rotation=True``), applied to each body separately:

- ``v_t`` = right shoulder (joint 9) - left shoulder (joint 5) of frame ``t``, with ``y`` zeroed;
- ``cos(theta_t) = v_x / (||v_t|| + 1e-4)``, ``theta_t`` in ``[0, pi]`` (``arccos``);
- if the sum over frames of ``v_z`` is ``>= 0``, every ``theta_t`` is negated (one sign for the
  whole sequence);
- frame ``t`` is mapped by ``R_t = [[c, 0, -s], [0, 1, 0], [s, 0, c]]`` (``c, s`` of ``theta_t``).

Consequences of the official formula, kept on purpose (documented in ``docs/profiles.md``):
the ``1e-4`` inside the arccos leaves a residual angle of about ``sqrt(2e-4 / ||v||)`` rad
(~1.5 degrees for 35 cm shoulders), and a frame whose ``v_z`` has the opposite sign of the
sequence sum is rotated the wrong way (to twice its angle instead of to zero). ``R_t`` is a
proper rotation, so bone lengths are preserved, and all-zero frames or bodies stay zero.
"""
from __future__ import annotations

import numpy as np

from actclr.skeleton import LEFT_SHOULDER, RIGHT_SHOULDER

#: The epsilon the official code adds to the shoulder-vector norm.
NORM_EPS = 1e-4


def align_shoulders_y(seq: np.ndarray) -> np.ndarray:
    """Rotate every frame of every body of ``seq (T, M, 25, 3)`` about y (one sign rule per body).

    Returns float32 ``(T, M, 25, 3)``; pass ``body[:, None]`` for a single body ``(T, 25, 3)``.
    """
    pts = seq.astype(np.float64)
    v = pts[:, :, RIGHT_SHOULDER] - pts[:, :, LEFT_SHOULDER]  # (T, M, 3)
    vx, vz = v[..., 0], v[..., 2]
    cos = vx / (np.hypot(vx, vz) + NORM_EPS)
    sin = np.sqrt(1.0 - cos * cos)  # sin(arccos(c)) >= 0
    sin = np.where(vz.sum(axis=0) >= 0, -sin, sin)  # one sign per body over the whole sequence
    cos, sin = cos[..., None], sin[..., None]
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    return np.stack((cos * x - sin * z, y, sin * x + cos * z), axis=-1).astype(np.float32)
