"""Semantic-aware feature pooling (SAFP, paper Eq. 8) and the SAFP key embedding."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def safp_pool(fmap: Tensor, mask: Tensor, eps: float = 1e-5) -> Tensor:
    """Actionlet-weighted mean of a feature map: ``fmap (N,M,C,T',V)``, ``mask (N,M,T',V)`` -> ``(N,C)``.

    Per body ``sum_tv h_ctv A_tv / (sum_tv A_tv + eps)`` (Eq. 8), then the mean over bodies, as the
    encoder's global pooling does. With a uniform mask of ones it equals global average pooling
    (up to ``eps``). A body whose mask is all zero pools to zero (official behaviour).
    """
    if mask.shape != fmap.shape[:2] + fmap.shape[3:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match feature map {tuple(fmap.shape)}: "
                         "expected (N, M, T', V)")
    weights = mask.unsqueeze(2)
    pooled = (fmap * weights).sum((3, 4)) / (weights.sum((3, 4)) + eps)
    return pooled.mean(1)


def safp_embedding(projector: nn.Module, gap_features: Tensor, fmap: Tensor, mask: Tensor,
                   blend: float = 0.5) -> Tensor:
    """Key embedding ``normalize(blend * P(GAP) + (1 - blend) * P(SAFP))`` -> ``(N, D)``, unit norm.

    ``gap_features (N, C)`` is the globally pooled feature of the same ``fmap``. ``blend=0.5`` is
    the official code; ``blend=0`` is the paper as written (``z_k = g_k(SAFP(f_k(X_k)))``).
    """
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"SAFP blend must be in [0, 1], got {blend}")
    z = projector(safp_pool(fmap, mask))
    if blend > 0:
        z = blend * projector(gap_features) + (1.0 - blend) * z
    return F.normalize(z, dim=1)
