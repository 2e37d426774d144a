"""Per-sample linear maps of the xyz coordinates."""
from __future__ import annotations

import torch
from torch import Tensor


def apply_matrix(x: Tensor, matrix: Tensor) -> Tensor:
    """``p -> R_n p`` for every point of sample ``n``: ``x`` (N, 3, T, V, M), ``matrix`` (N, 3, 3)."""
    n = x.shape[0]
    return torch.bmm(matrix, x.reshape(n, 3, -1)).reshape(x.shape)
