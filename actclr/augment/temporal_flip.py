"""Temporal flip (time reversal), listed by the paper but in no official view."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.effects import AxisMap, Effect, transform_of
from actclr.augment.indexing import check_batch, chosen_rows
from actclr.augment.sampling import gate


def temporal_flip_effects(x: Tensor, g: torch.Generator, p: float = 0.5) -> tuple[Effect, ...]:
    """With probability ``p`` per sample, play the sequence backwards.

    ``x`` (N, C, T, V, M) -> (N, C, T, V, M); a frame map of the chosen samples (:class:`AxisMap`).
    """
    check_batch(x, "temporal_flip")
    return (AxisMap(lambda s: s.flip(2), rows=chosen_rows(gate(g, x.shape[0], p, x.device))),)


temporal_flip = transform_of(temporal_flip_effects)
