"""Skeleton AdaIN: take statistics ("style") from a random batch partner."""
from __future__ import annotations

import torch
from torch import Tensor

from actclr.augment.indexing import check_batch
from actclr.augment.partner import partner_index
from actclr.augment.tree import ROOT, bones_joint_major, joint_major, rebuild_joint_major, sample_major

ADAIN_VARIANTS = ("paper", "bone_length")


def _paper(x: Tensor, partner: Tensor, eps: float) -> Tensor:
    """Eq. 6 on ``x`` (N, C, T, V, M): one new buffer, written in three passes.

    Per-body joint means are taken and put back over the joints as GEMMs with ``spread`` (M, V M)
    (copies a per-body value to every joint of that body); on CPU this is several times faster
    than reducing or broadcasting over the joint axis, whose stride is M.
    """
    n, c, t, v, m = x.shape
    rows = x.reshape(n * c * t, v * m)
    spread = torch.eye(m, device=x.device, dtype=x.dtype).repeat(1, v)
    mean = (spread @ rows.T).div_(v).T                                       # (N C T, M)
    partner_mean = mean.reshape(n, c * t, m).index_select(0, partner).view(n * c * t, m)
    # Unbiased std over T, two-pass (torch.std over a middle axis is far slower on CPU).
    buffer = (x - x.mean(dim=2, keepdim=True)).square_()
    std = buffer.sum(dim=2, keepdim=True).div_(max(t - 1, 1)).sqrt_()        # (N, C, 1, V, M)
    scale = std.index_select(0, partner) / (std + eps)
    out = torch.addmm(rows, mean, spread, alpha=-1, out=buffer.view(rows.shape))
    out.view(x.shape).mul_(scale)
    return out.addmm_(partner_mean, spread).view(x.shape)


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
    if variant == "paper":
        return _paper(x, partner, eps)
    return sample_major(_bone_length(joint_major(x), partner))
