"""Linear resize along time, bit-compatible in formula with OpenCV ``INTER_LINEAR``.

The community 50-frame data (CrosSCLR/AimCLR/ActCLR ``real_resize``) resizes a ``(L, V, C)``
float32 "image" to ``(50, V, C)`` with ``cv2.resize(..., INTER_LINEAR)``. Along the joint axis the
size is unchanged, so only the time axis is interpolated, with OpenCV's half-pixel centres::

    src = (dst + 0.5) * L / L_out - 0.5      (computed in double, rounded to float32)
    i0 = floor(src), w1 = src - i0, w0 = 1 - w1
    i0 < 0      -> i0 = 0,     w1 = 0
    i0 >= L - 1 -> i0 = L - 1, w1 = 0

This is also what ``torch.nn.functional.interpolate(mode="linear", align_corners=False)`` does,
which the CTR-GCN feeders use. OpenCV is not a dependency: the weights are computed here.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1024)
def linear_weights(src_len: int, dst_len: int) -> tuple:
    """Source rows and weights for resizing ``src_len`` rows to ``dst_len``.

    Returns ``(i0, i1, w0, w1)``: int64 arrays ``(dst_len,)`` and float32 arrays ``(dst_len,)``
    such that ``out[d] = w0[d] * x[i0[d]] + w1[d] * x[i1[d]]``. The arrays are read-only (cached).
    """
    if src_len < 1 or dst_len < 1:
        raise ValueError(f"cannot resize {src_len} frames to {dst_len}")
    scale = 1.0 / (dst_len / src_len)  # OpenCV: scale_x = 1 / inv_scale_x, in double
    src = ((np.arange(dst_len, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(src).astype(np.int64)
    w1 = src - i0.astype(np.float32)
    low = i0 < 0
    high = i0 >= src_len - 1
    i0[low] = 0
    i0[high] = src_len - 1
    w1[low | high] = 0.0
    i1 = np.minimum(i0 + 1, src_len - 1)
    w0 = (np.float32(1.0) - w1).astype(np.float32)
    arrays = (i0, i1, w0, w1.astype(np.float32))
    for a in arrays:
        a.setflags(write=False)
    return arrays


def linear_resize(x: np.ndarray, length: int) -> np.ndarray:
    """Resize ``x (L, ...)`` along axis 0 to ``(length, ...)`` (OpenCV ``INTER_LINEAR`` formula).

    Computed in float32 like OpenCV does for float32 images; ``L == length`` returns a copy.
    """
    src_len = x.shape[0]
    x = np.asarray(x, dtype=np.float32)
    if src_len == length:
        return x.copy()
    i0, i1, w0, w1 = linear_weights(src_len, length)
    shape = (length,) + (1,) * (x.ndim - 1)
    return x[i0] * w0.reshape(shape) + x[i1] * w1.reshape(shape)
