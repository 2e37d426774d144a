"""Per-sample linear maps of the xyz coordinates and of the joints."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def apply_matrix(x: Tensor, matrix: Tensor) -> Tensor:
    """``p -> R_n p`` for every point of sample ``n``: ``x`` (N, 3, T, V, M), ``matrix`` (N, 3, 3)."""
    return torch.bmm(matrix, x.reshape(x.shape[0], 3, math.prod(x.shape[2:]))).reshape(x.shape)


def apply_joint_matrix(x: Tensor, matrix: Tensor) -> Tensor:
    """``x_v -> sum_u B_n[v, u] x_u`` for every coordinate, frame and body of sample ``n``.

    ``x`` (N, C, T, V, M), ``matrix`` (N, V, V) -> (N, C, T, V, M). One ``bmm`` on the contiguous
    ``(C T, V M)`` rows with ``B_n`` expanded to act on each body (``kron(B_n, I_M)``), which on CPU
    is much faster than moving the joint axis next to the rows and back.
    """
    n, c, t, v, m = x.shape
    eye = torch.eye(m, device=x.device, dtype=x.dtype)
    kron = (matrix[:, :, None, :, None] * eye[:, None, :]).reshape(n, v * m, v * m)
    return torch.bmm(x.reshape(n, c * t, v * m), kron.transpose(1, 2)).view(x.shape)
