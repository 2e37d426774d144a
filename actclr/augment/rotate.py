"""Random 3-D rotation about a randomly chosen main axis."""
from __future__ import annotations

import math
from functools import cache

import torch
from torch import Tensor

from actclr.augment.effects import CoordMap, Effect, transform_of
from actclr.augment.indexing import check_batch
from actclr.augment.sampling import integers, uniform


@cache
def _generators(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """``I`` (3, 3), ``K`` (3, 3, 3) with ``K[a] p = e_a x p`` (cross product with axis ``a``),
    and ``K @ K``."""
    cross = torch.tensor([((0, 0, 0), (0, 0, -1), (0, 1, 0)),
                          ((0, 0, 1), (0, 0, 0), (-1, 0, 0)),
                          ((0, -1, 0), (1, 0, 0), (0, 0, 0))], device=device, dtype=dtype)
    return torch.eye(3, device=device, dtype=dtype), cross, cross @ cross


def axis_rotations(angles: Tensor) -> Tensor:
    """Right-handed rotations about x, y and z by ``angles[..., 0]``, ``[..., 1]``, ``[..., 2]``
    radians: ``angles`` (..., 3) -> (..., 3, 3, 3), rotation ``a`` at ``[..., a, :, :]``.

    Rodrigues' formula ``R = I + sin(a) K + (1 - cos(a)) K^2`` with ``K`` the cross-product
    matrix of the axis, for all three axes at once.
    """
    eye, cross, cross_squared = _generators(angles.device, angles.dtype)
    return eye + angles.sin()[..., None, None] * cross + (1 - angles.cos())[..., None, None] * cross_squared


def rotate_effects(x: Tensor, g: torch.Generator, max_angle: float = 30.0, minor_angle: float = 1.0,
                   symmetric: bool = False) -> tuple[Effect, ...]:
    """Per sample: pick a main axis uniformly from x/y/z; rotate by up to ``max_angle`` degrees
    about it and by up to ``minor_angle`` degrees about the two others, applied in the order
    x, y, z (``R = Rz Ry Rx``).

    ``symmetric=False`` (default, official): angles ``U(0, a)``, applied clockwise (the official
    matrices are right-handed rotations by ``-angle``), so the rotation always turns one way.
    ``symmetric=True``: angles ``U(-a, a)``. ``x`` (N, 3, T, V, M) -> (N, 3, T, V, M); one
    :class:`CoordMap`.
    """
    check_batch(x, "rotate")
    n = x.shape[0]
    main = integers(g, n, 0, 2, x.device)
    limit = torch.full((n, 3), math.radians(minor_angle), device=x.device, dtype=x.dtype)
    limit.masked_fill_(torch.arange(3, device=x.device) == main[:, None], math.radians(max_angle))
    u = uniform(g, (n, 3), x)
    rx, ry, rz = axis_rotations(limit.mul_(2 * u - 1) if symmetric else limit.mul_(u).neg_()).unbind(1)
    return (CoordMap(rz @ ry @ rx),)


rotate = transform_of(rotate_effects)
