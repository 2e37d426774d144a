"""Skeleton Mix: per-sample CutMix, ResizeMix or Mixup with a batch partner."""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import torch
from torch import Tensor

from actclr.augment.indexing import check_batch
from actclr.augment.partner import partner_index
from actclr.augment.sampling import categorical, integers, random_subset, uniform
from actclr.augment.temporal import take_frames
from actclr.skeleton import BODY_PARTS, NUM_JOINTS

CUTMIX, RESIZEMIX, MIXUP = 0, 1, 2


class MixResult(NamedTuple):
    """Output of :func:`skeleton_mix`; masks are at full time resolution ``T``.

    ``x`` (N, C, T, V, M) mixed batch; ``partner`` (N,) long; ``own`` (N, T, V) weight of the
    sample's own content; ``taken`` (N, T, V) region of the partner's sequence whose content was
    used; ``mode`` (N,) long (0 CutMix, 1 ResizeMix, 2 Mixup).
    """

    x: Tensor
    partner: Tensor
    own: Tensor
    taken: Tensor
    mode: Tensor


@cache
def _part_membership(device: torch.device, dtype: torch.dtype) -> Tensor:
    """(P, V): 1 where joint ``v`` belongs to body part ``p`` of ``BODY_PARTS``, else 0."""
    member = torch.zeros(len(BODY_PARTS), NUM_JOINTS, device=device, dtype=dtype)
    for p, joints in enumerate(BODY_PARTS):
        member[p, list(joints)] = 1.0
    return member


def _check_ranges(frames: int, parts: Sequence[int], units: Sequence[int], unit_frames: int) -> None:
    if not 1 <= parts[0] <= parts[1] <= len(BODY_PARTS):
        raise ValueError(f"skeleton_mix: parts must satisfy 1 <= min <= max <= {len(BODY_PARTS)}, "
                         f"got {tuple(parts)}")
    if unit_frames < 1 or not 1 <= units[0] <= units[1] <= frames // unit_frames:
        raise ValueError(f"skeleton_mix: units must satisfy 1 <= min <= max <= T // unit_frames = "
                         f"{frames // max(unit_frames, 1)}, got {tuple(units)} with unit_frames={unit_frames}")


def skeleton_mix(x: Tensor, g: torch.Generator, parts: Sequence[int] = (2, 3),
                 units: Sequence[int] = (3, 5), unit_frames: int = 4,
                 probs: Sequence[float] = (0.5, 0.25, 0.25)) -> MixResult:
    """Mix every sample with a partner (``partner_index``); per sample a mode, parts, window, lambda.

    Spatial region: ``Cs ~ U{parts}`` body parts of ``BODY_PARTS``. Window: ``Ct ~ U{units}``
    units of ``unit_frames`` frames starting at unit ``tau ~ U{0 .. T // unit_frames - Ct}``,
    frames ``[unit_frames * tau, unit_frames * (tau + Ct))``. Mode with ``probs``:
    CutMix copies the partner's region (window x parts) in place; ResizeMix pastes the partner's
    first ``2 W`` frames (``W`` = window length), nearest-resampled to ``W``, into the window on
    the chosen parts; Mixup returns ``(1 - l) x + l x_partner``, ``l ~ U(0, 1)``. Official ranges
    ``parts=(2, 3)``, ``units=(3, 5)`` (``(1, 2)``, ``(1, 3)`` for branch 2 from epoch 200).
    ``x`` (N, C, T, V=25, M) -> :class:`MixResult`.
    """
    check_batch(x, "skeleton_mix", joints=True)
    n, frames = x.shape[0], x.shape[2]
    _check_ranges(frames, parts, units, unit_frames)
    device = x.device
    partner = partner_index(n, g, device)
    mode = categorical(g, n, probs, device)
    n_parts = integers(g, n, parts[0], parts[1], device)
    parts_taken = random_subset(g, n_parts, len(BODY_PARTS)).to(x.dtype)
    joints = (parts_taken @ _part_membership(device, x.dtype)) > 0                      # (N, V)
    width = integers(g, n, units[0], units[1], device)
    start = integers(g, n, 0, frames // unit_frames - width, device) * unit_frames
    width = width * unit_frames
    lam = uniform(g, (n, 1), x)

    # Every mask is an outer product: per-frame weight (N, T) x per-joint weight (N, V).
    t = torch.arange(frames, device=device)
    offset = t - start[:, None]
    window = (offset >= 0) & (offset < width[:, None])
    is_mixup, is_resize = (mode == MIXUP)[:, None], (mode == RESIZEMIX)[:, None]
    source = torch.where(window & is_resize, (2 * offset).clamp(max=frames - 1), t)
    content = take_frames(x, source, rows=partner).view(n, x.shape[1], frames, -1)

    per_frame = torch.where(is_mixup, lam, window.to(x.dtype))
    used_frames = torch.where(is_mixup | ~is_resize, per_frame, (t < 2 * width[:, None]).to(x.dtype))
    per_joint = torch.where(is_mixup, 1.0, joints.to(x.dtype))
    lanes = per_frame[:, :, None] * per_joint.repeat_interleave(x.shape[4], dim=1)[:, None, :]
    mixed = torch.lerp(x.reshape(content.shape), content, lanes[:, None], out=content).view(x.shape)
    weight = per_frame[:, :, None] * per_joint[:, None, :]
    return MixResult(mixed, partner, 1 - weight, used_frames[:, :, None] * per_joint[:, None, :], mode)


def skeleton_mix_view(x: Tensor, g: torch.Generator, **params) -> Tensor:
    """:func:`skeleton_mix` returning only the mixed batch, for use as a view step."""
    return skeleton_mix(x, g, **params).x
