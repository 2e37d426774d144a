"""Actionlet-dependent combination of two transformed views (Eq. 7)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def upsample_mask(mask: Tensor, frames: int) -> Tensor:
    """Actionlet map (N, M, Tp, V) -> (N, 1, T=frames, V, M): linear in time with
    ``align_corners=True`` (the official bilinear resize, identity over joints)."""
    if mask.dim() != 4:
        raise ValueError(f"upsample_mask: expected an (N, M, Tp, V) mask, got shape {tuple(mask.shape)}")
    n, m, steps, v = mask.shape
    lanes = mask.permute(0, 1, 3, 2).reshape(n, m * v, steps)
    up = F.interpolate(lanes, size=frames, mode="linear", align_corners=True)
    return up.reshape(n, m, v, frames).permute(0, 3, 2, 1).unsqueeze(1)


def actionlet_combine(x_act: Tensor, x_non: Tensor, mask: Tensor) -> Tensor:
    """``A * x_act + (1 - A) * x_non`` with ``A = upsample_mask(mask, T)`` broadcast over C.

    ``x_act``, ``x_non`` (N, C, T, V, M); ``mask`` (N, M, Tp, V) in [0, 1].
    """
    if x_act.shape != x_non.shape:
        raise ValueError(f"actionlet_combine: views differ in shape: {tuple(x_act.shape)} vs {tuple(x_non.shape)}")
    n, _, frames, v, m = x_act.shape
    if mask.shape[0] != n or mask.shape[1] != m or mask.shape[3] != v:
        raise ValueError(f"actionlet_combine: mask {tuple(mask.shape)} does not match views "
                         f"{tuple(x_act.shape)} (expected (N={n}, M={m}, Tp, V={v}))")
    weight = upsample_mask(mask.to(x_act.dtype), frames)
    return weight * x_act + (1 - weight) * x_non
