"""Shared choice of a batch partner for the inter-sample transforms (AdaIN, Skeleton Mix)."""
from __future__ import annotations

import torch
from torch import Tensor


def partner_index(n: int, g: torch.Generator, device: torch.device | str) -> Tensor:
    """``(n,)`` long: a partner ``j != i`` for every sample ``i``, ``j = (i + k_i) mod n`` with
    ``k_i`` uniform in ``[1, n - 1]`` drawn per sample. (The official code draws one shift per
    batch from ``[1, n - 2]``; a per-sample shift pairs samples more diversely.)
    """
    if n < 2:
        raise ValueError(f"partner_index: a batch partner needs at least 2 samples, got a batch of {n}")
    shift = torch.randint(1, n, (n,), generator=g, device=device)
    return (torch.arange(n, device=device) + shift) % n
