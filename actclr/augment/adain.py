"""Skeleton AdaIN: take statistics ("style") from a random batch partner."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.batch import check_batch
from actclr.augment.partner import partner_index
from actclr.augment.tree import ROOT, bones_joint_major, joint_major, rebuild_joint_major, sample_major

ADAIN_VARIANTS = ("paper", "bone_length")


def _paper(y: Tensor, partner: Tensor, eps: float) -> Tensor:
    """Eq. 6 on joint-major ``y`` (V, M, N, C, T), which is overwritten with the result."""
    mean = y.mean(dim=0, keepdim=True)
    # Unbiased std over T, two-pass (torch.std is far slower on CPU).
    centred_sq = (y - y.mean(dim=4, keepdim=True)).square_()
    std = centred_sq.sum(dim=4, keepdim=True).div_(max(y.shape[4] - 1, 1)).sqrt_()
    scale = std.index_select(2, partner) / (std + eps)
    return y.sub_(mean).mul_(scale).add_(mean.index_select(2, partner))


def _bone_length(y: Tensor, partner: Tensor) -> Tensor:
    """Bone-length transfer on joint-major ``y`` (V, M, N, C, T)."""
    bones = bones_joint_major(y)
    length = bones.square().sum(dim=3, keepdim=True).add_(1e-5).sqrt_()
    return rebuild_joint_major(y[ROOT], bones.mul_(length.index_select(2, partner) / length))


def skeleton_adain(x: Tensor, g: torch.Generator, variant: str = "paper",
                   eps: float = 1e-3) -> Tensor:
    """Transfer a random partner's statistics onto each sample (partner from ``partner_index``,
    drawn first from ``g``).

    ``variant='paper'`` (default, Eq. 6): ``(x - mu(x)) / (sigma(x) + eps) * sigma(x_j) + mu(x_j)``
    per body and coordinate, with ``mu`` the spatial mean (over joints, one value per frame) and
    ``sigma`` the temporal standard deviation (over frames, unbiased, one value per joint), as
    written in the paper and in the official motion-stream code. Default because it is the
    method as published. Because the two statistics run over different axes, the output carries
    the partner's exact statistics only when the sample's and partner's joint-wise spreads are
    proportional; in general it is a re-styling, not an exact moment match.
    ``variant='bone_length'`` (official joint-stream code): every bone is rescaled to the
    partner's bone length in the same frame and body (norms over xyz with 1e-5 inside the square
    roots), and the joints are rebuilt from the root along ``TREE_ORDER``.
    ``x`` (N, 3, T, V, M) -> (N, 3, T, V, M).
    """
    check_batch(x, "skeleton_adain", joints=variant == "bone_length")
    if variant not in ADAIN_VARIANTS:
        raise ValueError(f"skeleton_adain: variant must be one of {ADAIN_VARIANTS}, got {variant!r}")
    partner = partner_index(x.shape[0], g, x.device)
    y = joint_major(x)
    styled = _paper(y, partner, eps) if variant == "paper" else _bone_length(y, partner)
    return sample_major(styled)
