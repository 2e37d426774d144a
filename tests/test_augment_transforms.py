"""Invariants of the single-sample-style transforms (crop, shear, flip, rotate, noise, ...)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from augment_helpers import gen, skeletons

from actclr.augment import (
    TRANSFORMS,
    axis_mask,
    bone_shrink,
    gaussian_blur,
    gaussian_noise,
    rotate,
    shear,
    spatial_flip,
    speed_resample,
    temporal_crop,
    temporal_flip,
    to_stream,
)
from actclr.augment.coords import apply_joint_matrix
from actclr.augment.rotate import axis_rotations
from actclr.augment.tree import bone_scaling_matrix, bones_joint_major, joint_major, rebuild_joint_major, sample_major
from actclr.skeleton import CENTER, FLIP_PERMUTATION

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bone_lengths(x: torch.Tensor) -> torch.Tensor:
    return to_stream(x, "bone").norm(dim=1)


def fitted_matrices(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample 3x3 ``R`` with ``y = R x`` (least squares over all points)."""
    n = x.shape[0]
    a, b = x.reshape(n, 3, -1).double(), y.reshape(n, 3, -1).double()
    return torch.linalg.lstsq(a.transpose(1, 2), b.transpose(1, 2)).solution.transpose(1, 2)


# ------------------------------------------------------------------ crop
@pytest.mark.parametrize("padding", ["symmetric", "edge"])
def test_shift_crop_is_a_shift_with_mirrored_or_edge_padding(padding):
    frames, pad = 50, 8
    ramp = torch.arange(frames, dtype=torch.float32)[None, None, :, None, None]
    x = ramp.expand(64, 3, frames, 25, 2).contiguous()
    t = temporal_crop(x, gen(1), pad=pad, padding=padding)[:, 0, :, 0, 0]
    offset = (t[:, frames // 2] - frames // 2 + pad).long()
    assert offset.min() >= 0 and offset.max() <= 2 * pad and len(offset.unique()) > 8
    padded = np.pad(np.arange(frames), pad, mode=padding)     # numpy 'symmetric' repeats the edge frame
    expected = np.stack([padded[o:o + frames] for o in offset.tolist()])
    assert np.array_equal(t.numpy(), expected)


@pytest.mark.parametrize("mode", ["shift", "resize"])
def test_crop_keeps_a_constant_sequence_constant(mode):
    x = torch.full((16, 3, 50, 25, 2), 0.7)
    torch.testing.assert_close(temporal_crop(x, gen(), mode=mode), x)


def test_resize_crop_takes_a_contiguous_window_and_stretches_it():
    ramp = torch.arange(50, dtype=torch.float64)[None, None, :, None, None].expand(32, 3, 50, 25, 2)
    y = temporal_crop(ramp.contiguous(), gen(2), mode="resize", ratio=(0.5, 0.5))
    t = y[:, 0, :, 0, 0]
    span = t[:, -1] - t[:, 0]
    assert (span <= 24).all() and (span >= 23).all()        # 25 source frames over 50 outputs
    assert (t.diff(dim=1) >= 0).all() and len(t[:, 0].unique()) > 5


def test_crop_rejects_bad_arguments():
    x = skeletons(2)
    with pytest.raises(ValueError, match="mode"):
        temporal_crop(x, gen(), mode="zoom")
    with pytest.raises(ValueError, match="pad"):
        temporal_crop(x, gen(), pad=60)
    with pytest.raises(ValueError, match="N, C=3, T, V, M"):
        temporal_crop(x[0], gen())


# ------------------------------------------------------------------ shear and rotate
def test_shear_matrix_has_unit_diagonal_and_bounded_off_diagonal():
    x = skeletons(16)
    r = fitted_matrices(x, shear(x, gen(), amplitude=0.5))
    eye = torch.eye(3, dtype=r.dtype)
    torch.testing.assert_close(r * eye, eye.expand_as(r), atol=1e-4, rtol=0)
    off = r[:, ~eye.bool()]
    assert off.abs().max() <= 0.5 + 1e-4 and off.std() > 0.1


def test_rotation_is_proper_and_keeps_bone_lengths():
    x = skeletons(32)
    y = rotate(x, gen())
    torch.testing.assert_close(bone_lengths(y), bone_lengths(x), atol=1e-5, rtol=1e-5)
    r = fitted_matrices(x, y)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3, dtype=r.dtype).expand_as(r), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(32, dtype=r.dtype), atol=1e-4, rtol=0)
    angle = torch.rad2deg(torch.arccos(((r.diagonal(dim1=1, dim2=2).sum(1) - 1) / 2).clamp(-1, 1)))
    assert angle.max() <= 30 + 2 + 1e-3 and angle.std() > 1


def test_rotation_direction_official_one_way_symmetric_both():
    x = skeletons(64)

    def signed_angles(y):   # one axis at a time: minor angles are zero
        r = fitted_matrices(x, y)
        skew = torch.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], 1)
        return torch.rad2deg(torch.asin((skew / 2).clamp(-1, 1))).sum(1)

    official = signed_angles(rotate(x, gen(), minor_angle=0.0))
    symmetric = signed_angles(rotate(x, gen(), minor_angle=0.0, symmetric=True))
    assert (official <= 1e-3).all() and official.min() >= -30 - 1e-3
    assert (symmetric > 1).any() and (symmetric < -1).any() and symmetric.abs().max() <= 30 + 1e-3


def test_axis_rotations_match_the_right_hand_rule():
    rx, ry, rz = axis_rotations(torch.tensor([math.pi / 2] * 3))
    e = torch.eye(3)
    for r, before, after in ((rx, e[1], e[2]), (ry, e[2], e[0]), (rz, e[0], e[1])):   # y->z, z->x, x->y
        torch.testing.assert_close(r @ before, after, atol=1e-6, rtol=0)
    half = axis_rotations(torch.tensor([[0.3, -0.7, 1.1]]))[0]
    torch.testing.assert_close(half @ half.transpose(1, 2), e.expand(3, 3, 3), atol=1e-6, rtol=0)


# ------------------------------------------------------------------ flips
@pytest.mark.parametrize("mirror", [False, True])
def test_spatial_flip_twice_is_identity(mirror):
    x = skeletons(8)
    once = spatial_flip(x, gen(), p=1.0, mirror=mirror)
    assert not torch.equal(once, x)
    torch.testing.assert_close(spatial_flip(once, gen(), p=1.0, mirror=mirror), x, atol=0, rtol=0)


def test_spatial_flip_relabels_and_optionally_mirrors():
    x = skeletons(4)
    perm = list(FLIP_PERMUTATION)
    assert torch.equal(spatial_flip(x, gen(), p=1.0), x[:, :, :, perm])
    mirrored = spatial_flip(x, gen(), p=1.0, mirror=True)
    assert torch.equal(mirrored[:, 0], -x[:, 0][:, :, perm])
    assert torch.equal(mirrored[:, 1:], x[:, 1:][:, :, :, perm])


def test_flips_are_gated_per_sample():
    x = skeletons(200)
    for y in (spatial_flip(x, gen(), p=0.5), temporal_flip(x, gen(), p=0.5)):
        changed = (y != x).flatten(1).any(1).float()
        assert 0.35 < changed.mean() < 0.65
    assert torch.equal(temporal_flip(x, gen(), p=1.0), x.flip(2))


# ------------------------------------------------------------------ noise, blur, axis mask
def test_noise_has_the_requested_std_and_gate():
    x = skeletons(400)
    y = gaussian_noise(x, gen(), std=0.05, p=1.0)
    assert abs((y - x).std().item() - 0.05) < 0.001 and abs((y - x).mean().item()) < 0.001
    gated = gaussian_noise(x, gen(), std=0.05, p=0.5)
    changed = (gated != x).flatten(1).any(1)
    assert 0.4 < changed.float().mean() < 0.6
    assert (gated - x)[changed].std() > 0.045


def test_normalized_blur_keeps_constant_and_unnormalized_scales_it():
    x = torch.full((32, 3, 50, 25, 2), 2.0)
    torch.testing.assert_close(gaussian_blur(x, gen(), p=1.0), x)
    y = gaussian_blur(x, gen(), p=1.0, normalize=False)
    gain = y / x
    per_sample = gain.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert (per_sample[:, 0] >= 1.0 - 1e-6).all() and per_sample[:, 0].max() > 2.0
    assert per_sample[:, 0].max() < 2 * math.sqrt(2 * math.pi) + 1e-3     # kernel sum at sigma=2


def test_blur_smooths_and_zero_padding_darkens_edges():
    x = skeletons(16)
    y = gaussian_blur(x, gen(), p=1.0, sigma=(2.0, 2.0))
    assert y.diff(dim=2).abs().mean() < 0.5 * x.diff(dim=2).abs().mean()
    ones = torch.ones(4, 3, 50, 25, 2)
    official = gaussian_blur(ones, gen(), p=1.0, normalize=False, padding="zeros", sigma=(2.0, 2.0))
    assert (official[:, :, 0] < official[:, :, 25]).all()


def test_axis_mask_zeros_exactly_one_coordinate_of_gated_samples():
    x = skeletons(200)
    y = axis_mask(x, gen(), p=0.5)
    zero_axes = (y == 0).flatten(2).all(2).sum(1)          # (N,) coordinates entirely zero
    changed = (y != x).flatten(1).any(1)
    assert torch.equal(zero_axes[changed], torch.ones_like(zero_axes[changed]))
    assert torch.equal(y[~changed], x[~changed]) and 0.35 < changed.float().mean() < 0.65
    assert (zero_axes == 0).sum() == (~changed).sum()
    assert len(y[changed].eq(0).flatten(2).all(2).float().argmax(1).unique()) == 3


# ------------------------------------------------------------------ speed and bone shrink
def test_speed_halving_averages_frame_pairs_and_zero_pads():
    x = skeletons(4, dtype=torch.float64)
    y = speed_resample(x, gen(), factor=(0.5, 0.5), p=1.0)
    assert y.shape == x.shape
    torch.testing.assert_close(y[:, :, :25], 0.5 * (x[:, :, 0::2] + x[:, :, 1::2]))
    assert (y[:, :, 25:] == 0).all()


def test_speed_keeps_shape_and_truncates_when_slower():
    x = skeletons(4, dtype=torch.float64)
    y = speed_resample(x, gen(), factor=(1.5, 1.5), p=1.0)
    assert y.shape == x.shape and (y != 0).flatten(3).any(-1).all()
    torch.testing.assert_close(y[:, :, 0], x[:, :, 0])
    ungated = speed_resample(x, gen(), p=0.0)
    assert torch.equal(ungated, x)


def test_bone_shrink_shortens_every_bone_to_at_most_half():
    x = skeletons(16)
    y = bone_shrink(x, gen())
    before, after = bone_lengths(x), bone_lengths(y)
    ratio = after / before.clamp(min=1e-6)
    bones = [v for v in range(25) if v != CENTER]
    assert (ratio[:, :, bones] <= 0.5 + 1e-4).all()
    torch.testing.assert_close(y[:, :, :, CENTER], x[:, :, :, CENTER])
    per_bone = ratio[:, :, bones]                     # one factor per (sample, bone): constant in t and m
    torch.testing.assert_close(per_bone, per_bone[:, :1, :, :1].expand_as(per_bone), atol=1e-4, rtol=1e-3)
    assert per_bone[:, 0, :, 0].std() > 0.05


def test_bone_scaling_matrix_rebuilds_the_tree_with_scaled_bones():
    x = skeletons(4, dtype=torch.float64)
    factor = torch.rand(4, 25, generator=gen(1), dtype=torch.float64)
    identity = torch.eye(25, dtype=torch.float64).expand(4, -1, -1)
    assert torch.equal(bone_scaling_matrix(torch.ones_like(factor)), identity)
    y = joint_major(x)                      # reference: walk the tree, x_v = x_parent + f_v b_v
    bones = bones_joint_major(y) * factor.t()[:, None, :, None, None]
    expected = sample_major(rebuild_joint_major(y[CENTER], bones))
    torch.testing.assert_close(apply_joint_matrix(x, bone_scaling_matrix(factor)), expected)


# ------------------------------------------------------------------ common contract
#: Gates open so every sample is transformed (the flips stay random: they have no other parameter).
PARAMS = {"noise": {"p": 1.0}, "blur": {"p": 1.0}, "axis_mask": {"p": 1.0}, "speed": {"p": 1.0}}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_transform_keeps_shape_dtype_and_is_reproducible(name, dtype):
    fn, params = TRANSFORMS[name], PARAMS.get(name, {})
    x = skeletons(16, dtype=dtype)
    y = fn(x, gen(5), **params)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert torch.equal(y, fn(x, gen(5), **params))
    assert not torch.equal(y, fn(x, gen(6), **params))
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"adain", "mix", "flip", "temporal_flip"}))
def test_samples_in_a_batch_get_different_parameters(name):
    x = skeletons(1).expand(12, -1, -1, -1, -1).contiguous()
    y = TRANSFORMS[name](x, gen(3), **PARAMS.get(name, {}))
    distinct = len(y.flatten(1).unique(dim=0))
    if name == "axis_mask":                              # three possible outcomes
        assert distinct == 3
    elif name in ("crop", "speed"):                      # 17 offsets / 51 lengths: some repeat
        assert distinct >= 6
    else:                                                # continuous parameters
        assert distinct == 12
