"""Random shear of the xyz coordinates."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.effects import CoordMap, Effect, transform_of
from actclr.augment.indexing import check_batch
from actclr.augment.sampling import uniform


def shear_effects(x: Tensor, g: torch.Generator, amplitude: float = 0.5) -> tuple[Effect, ...]:
    """Per sample ``p -> S p`` with ``S = I`` plus six off-diagonal entries ``U(-a, a)``.

    Official amplitude 0.5. (The official code also keeps joint 21 fixed; on centred data, where
    that joint is the origin, this changes nothing and is not reproduced.)
    ``x`` (N, 3, T, V, M) -> (N, 3, T, V, M); one :class:`CoordMap`.
    """
    check_batch(x, "shear")
    eye = torch.eye(3, device=x.device, dtype=x.dtype)
    offsets = uniform(g, (x.shape[0], 3, 3), x, -amplitude, amplitude)
    return (CoordMap(eye + offsets * (1 - eye)),)


shear = transform_of(shear_effects)
