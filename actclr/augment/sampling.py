"""Per-sample random draws from an explicit generator, on the batch's device.

Every helper draws a fixed number of values from ``g`` for a given batch size, so a
transform's random stream depends only on the seed and the batch shape.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def uniform(g: torch.Generator, shape: tuple[int, ...], like: Tensor,
            low: float = 0.0, high: float = 1.0) -> Tensor:
    """``U(low, high)`` of ``shape`` on ``like.device`` in ``like.dtype``."""
    u = torch.rand(shape, generator=g, device=like.device, dtype=like.dtype)
    return u if (low, high) == (0.0, 1.0) else u.mul_(high - low).add_(low)


def integers(g: torch.Generator, n: int, low: int | Tensor, high: int | Tensor,
             device: torch.device) -> Tensor:
    """``(n,)`` long integers uniform in ``[low, high]`` (inclusive; bounds may be per-sample)."""
    span = high - low + 1
    u = torch.rand(n, generator=g, device=device, dtype=torch.float64)
    return (u * span).long().clamp_(max=span - 1) + low


def gate(g: torch.Generator, n: int, p: float, device: torch.device) -> Tensor:
    """``(n,)`` bool: each sample is transformed with probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability p must lie in [0, 1], got {p}")
    return torch.rand(n, generator=g, device=device) < p


def categorical(g: torch.Generator, n: int, probs: Sequence[float], device: torch.device) -> Tensor:
    """``(n,)`` long category indices drawn with the given probabilities (summing to 1)."""
    weights = torch.tensor(probs, dtype=torch.float64)
    if weights.dim() != 1 or (weights < 0).any() or abs(float(weights.sum()) - 1.0) > 1e-6:
        raise ValueError(f"probabilities must be non-negative and sum to 1, got {tuple(probs)}")
    edges = weights.cumsum(0)[:-1].to(device)
    u = torch.rand(n, generator=g, device=device, dtype=torch.float64)
    return torch.bucketize(u, edges, right=True)


def random_subset(g: torch.Generator, sizes: Tensor, items: int) -> Tensor:
    """``(n, items)`` bool: per sample, a uniformly random subset of ``sizes[i]`` of the items."""
    scores = torch.rand(sizes.shape[0], items, generator=g, device=sizes.device)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    return ranks < sizes[:, None]
