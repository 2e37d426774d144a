"""Temporal flip (time reversal), listed by the paper but in no official view."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch, gated
from actclr.augment.sampling import gate


def temporal_flip(x: Tensor, g: torch.Generator, p: float = 0.5) -> Tensor:
    """With probability ``p`` per sample, play the sequence backwards.

    ``x`` (N, C, T, V, M) -> (N, C, T, V, M).
    """
    check_batch(x, "temporal_flip")
    return gated(gate(g, x.shape[0], p, x.device), x.flip(2), x)
