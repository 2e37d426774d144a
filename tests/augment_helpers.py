"""Shared inputs for the augmentation tests: plausible skeleton batches and seeded generators."""
from __future__ import annotations

import torch

from actclr.skeleton import NUM_JOINTS


def skeletons(n: int = 8, frames: int = 50, bodies: int = 2, seed: int = 0,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n, 3, frames, 25, bodies): a random pose per body (no coordinate exactly zero) moving
    smoothly over time."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.rand(n, 3, 1, NUM_JOINTS, bodies, generator=g, dtype=torch.float64) + 0.5
    walk = torch.randn(n, 3, frames, NUM_JOINTS, bodies, generator=g, dtype=torch.float64).cumsum(2)
    return (pose + 0.01 * walk).to(dtype)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)

