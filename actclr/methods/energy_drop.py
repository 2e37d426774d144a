"""AimCLR's energy-based attention-guided drop ("Simam_Drop", ``Levigty/AimCLR:net/att_drop.py``).

On the last ST-GCN feature map, a parameter-free SimAM attention scores every (channel, frame,
joint) cell by how far it stands out from its channel's mean; the most salient joints and cells
are then dropped, so that the dropped view must be recognised from the rest (AimCLR Sec. 3.3).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class EnergyDrop(NamedTuple):
    """Result of :func:`energy_drop`: the dropped features and the two keep masks (1 keep, 0 drop)."""

    features: Tensor  # (N, M, C, T', V)
    joint_keep: Tensor  # (N, M, V)
    cell_keep: Tensor  # (N, M, C, T', V)


def simam_attention(fmap: Tensor, e_lambda: float = 1e-4) -> Tensor:
    """SimAM energy attention of a feature map ``(N, M, C, T', V)`` -> same shape, in (0.62, 1).

    Per body and channel, with ``d = (h - mean_{t,v} h)^2`` and ``s2 = sum_{t,v} d / (T'V - 1)``:
    ``sigmoid(d / (4 (s2 + e_lambda)) + 0.5)`` (the inverse of SimAM's minimal energy).
    """
    d = (fmap - fmap.mean(dim=(3, 4), keepdim=True)).square()
    s2 = d.sum(dim=(3, 4), keepdim=True) / (fmap.shape[3] * fmap.shape[4] - 1)
    return torch.sigmoid(d / (4 * (s2 + e_lambda)) + 0.5)


def _keep(attention: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """``(mask, scale)``: 1 where ``attention < threshold`` else 0, and ``numel / kept`` over the
    whole batch (the official rescale; 0 if every entry is dropped)."""
    mask = (attention < threshold).to(attention.dtype)
    kept = mask.sum()
    return mask, torch.where(kept > 0, mask.numel() / kept.clamp_min(1), 0.0)


def energy_drop(fmap: Tensor, threshold: float = 0.7, e_lambda: float = 1e-4) -> EnergyDrop:
    """Drop the salient joints, then the salient cells, of ``fmap (N, M, C, T', V)``.

    With the attention ``a`` of :func:`simam_attention` (computed once, on the input):

    1. joints: ``a`` averaged over ``(C, T')`` per body, ``(N, M, V)``; joints with mean attention
       ``>= threshold`` are zeroed in every channel and frame;
    2. cells: every ``(c, t, v)`` cell with ``a >= threshold`` is zeroed.

    After each step the features are multiplied by ``numel(mask) / sum(mask)`` over the whole
    batch (one factor per batch, as the official code; not per sample). The masks carry no
    gradient (the official masks are overwritten in place with constants), the features do.
    Threshold 0.7 is AimCLR's ``keep_prob``. Since the mean attention of a channel is below
    ``sigmoid(0.75) ~= 0.679``, a threshold above that always keeps cells and joints.
    """
    with torch.no_grad():  # in float32 at least: a bf16 feature map (AMP) would blur the counts
        attention = simam_attention(fmap.detach().to(torch.promote_types(fmap.dtype, torch.float32)), e_lambda)
        joint_keep, joint_scale = _keep(attention.mean(dim=(2, 3)), threshold)
        cell_keep, cell_scale = _keep(attention, threshold)
        weight = cell_keep * (joint_scale * cell_scale) * joint_keep[:, :, None, None, :]
    return EnergyDrop(fmap * weight.to(fmap.dtype), joint_keep, cell_keep)
