"""Random 3-D rotation about a randomly chosen main axis."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.coords import apply_matrix
from actclr.augment.sampling import integers, uniform


def axis_rotation(angle: Tensor, axis: int) -> Tensor:
    """Right-handed rotations by ``angle`` (N,) radians about ``axis`` (0=x, 1=y, 2=z): (N, 3, 3)."""
    c, s = angle.cos(), angle.sin()
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    rows = [[one, zero, zero], [zero, one, zero], [zero, zero, one]]
    rows[i][i], rows[i][j], rows[j][i], rows[j][j] = c, -s, s, c
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def rotate(x: Tensor, g: torch.Generator, max_angle: float = 30.0, minor_angle: float = 1.0,
           symmetric: bool = False) -> Tensor:
    """Per sample: pick a main axis uniformly from x/y/z; rotate by up to ``max_angle`` degrees
    about it and by up to ``minor_angle`` degrees about the two others, applied in the order
    x, y, z (``R = Rz Ry Rx``).

    ``symmetric=False`` (default, official): angles ``U(0, a)``, applied clockwise (the official
    matrices are right-handed rotations by ``-angle``), so the rotation always turns one way.
    ``symmetric=True``: angles ``U(-a, a)``. ``x`` (N, 3, T, V, M) -> (N, 3, T, V, M).
    """
    check_batch(x, "rotate")
    n = x.shape[0]
    main = integers(g, n, 0, 2, x.device)
    limit = torch.full((n, 3), math.radians(minor_angle), device=x.device, dtype=x.dtype)
    limit[torch.arange(n, device=x.device), main] = math.radians(max_angle)
    u = uniform(g, (n, 3), x)
    angle = limit * (2 * u - 1) if symmetric else -limit * u
    matrix = axis_rotation(angle[:, 0], 0)
    for axis in (1, 2):
        matrix = axis_rotation(angle[:, axis], axis) @ matrix
    return apply_matrix(x, matrix)
