"""Inter-sample transforms (partner, Skeleton AdaIN, Skeleton Mix), Eq. 7 combination, streams."""
from __future__ import annotations

import pytest
import torch
from augment_helpers import gen, skeletons

from actclr.augment import (
    CUTMIX,
    MIXUP,
    RESIZEMIX,
    actionlet_combine,
    partner_index,
    skeleton_adain,
    skeleton_mix,
    to_stream,
    upsample_mask,
)
from actclr.skeleton import BODY_PARTS, CENTER, PARENTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------ partner
def test_partner_is_never_the_sample_itself_and_varies():
    partner = partner_index(64, gen(), "cpu")
    assert partner.dtype == torch.long and partner.shape == (64,)
    assert (partner != torch.arange(64)).all() and partner.min() >= 0 and partner.max() < 64
    shifts = (partner - torch.arange(64)) % 64
    assert len(shifts.unique()) > 20
    assert torch.equal(partner_index(2, gen(), "cpu"), torch.tensor([1, 0]))


def test_partner_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        partner_index(1, gen(), "cpu")
    with pytest.raises(ValueError, match="at least 2"):
        skeleton_mix(skeletons(1), gen())


# ------------------------------------------------------------------ Skeleton AdaIN
def test_paper_adain_matches_eq6_with_the_drawn_partner():
    x = skeletons(6, dtype=torch.float64)
    y = skeleton_adain(x, gen(4))
    j = partner_index(6, gen(4), "cpu")
    mean, std = x.mean(dim=3, keepdim=True), x.std(dim=2, keepdim=True)
    torch.testing.assert_close(y, (x - mean) / (std + 1e-3) * std[j] + mean[j])


def test_paper_adain_output_has_the_partners_statistics():
    # Samples whose joint-wise temporal spreads are proportional (a_i = k_i * a) and whose
    # spatial mean is constant in time: Eq. 6 then transfers both statistics (up to the eps of 1e-3).
    n, frames = 8, 50
    g = gen(9)
    sign = (-1.0) ** torch.arange(25, dtype=torch.float64)[:, None]
    a = (torch.rand(1, 3, 1, 25, 2, generator=g, dtype=torch.float64) + 0.5) * sign
    a = a - a.mean(dim=3, keepdim=True)                     # zero spatial mean, |a| >= ~0.4
    k = torch.rand(n, 1, 1, 1, 1, generator=g, dtype=torch.float64) + 0.5
    f = torch.randn(n, 3, frames, 1, 2, generator=g, dtype=torch.float64)
    f = (f - f.mean(2, keepdim=True)) / f.std(2, keepdim=True)
    m = torch.randn(n, 3, 1, 1, 2, generator=g, dtype=torch.float64)
    x = m + k * a * f
    y = skeleton_adain(x, gen(1), eps=1e-3)
    j = partner_index(n, gen(1), "cpu")
    assert not torch.allclose(x.std(dim=2), x[j].std(dim=2), rtol=0.05)      # statistics do move
    torch.testing.assert_close(y.mean(dim=3), x[j].mean(dim=3), atol=5e-3, rtol=0)
    torch.testing.assert_close(y.std(dim=2), x[j].std(dim=2), rtol=1e-2, atol=0)


def test_bone_length_adain_takes_the_partners_bone_lengths():
    x = skeletons(8)
    y = skeleton_adain(x, gen(2), variant="bone_length")
    j = partner_index(8, gen(2), "cpu")
    length = lambda s: to_stream(s, "bone").norm(dim=1)                 # noqa: E731
    torch.testing.assert_close(length(y), length(x)[j], atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(y[:, :, :, CENTER], x[:, :, :, CENTER])
    direction = lambda s: torch.nn.functional.normalize(to_stream(s, "bone"), dim=1)  # noqa: E731
    bones = [v for v in range(25) if v != CENTER]
    torch.testing.assert_close(direction(y)[:, :, :, bones], direction(x)[:, :, :, bones], atol=1e-4, rtol=0)


def test_adain_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        skeleton_adain(skeletons(2), gen(), variant="motion")


# ------------------------------------------------------------------ Skeleton Mix
def _window(res):
    """Per sample: frames of the pasted window and the selected joints (from the masks)."""
    box = 1 - res.own
    return box.amax(dim=2) > 0, box.amax(dim=1) > 0


def test_cutmix_copies_the_partners_region_in_place():
    x = skeletons(32)
    res = skeleton_mix(x, gen(1), probs=(1.0, 0.0, 0.0))
    assert (res.mode == CUTMIX).all() and torch.equal(res.taken, 1 - res.own)
    pasted = (res.own == 0)[:, None, :, :, None].expand_as(x)
    assert torch.equal(res.x[pasted], x[res.partner][pasted])
    assert torch.equal(res.x[~pasted], x[~pasted])
    frames, joints = _window(res)
    width = frames.sum(1)
    assert ((width >= 12) & (width <= 20) & (width % 4 == 0)).all() and len(width.unique()) == 3
    start = frames.float().argmax(1)
    assert (start % 4 == 0).all() and (start + width <= 48).all()
    part_sets = {frozenset(p) for p in BODY_PARTS}
    for row in joints:
        chosen = [p for p in part_sets if all(row[list(p)])]
        assert 2 <= len(chosen) <= 3 and row.sum() == sum(len(p) for p in chosen)


def test_resizemix_pastes_the_partners_head_at_half_speed():
    x = skeletons(16)
    res = skeleton_mix(x, gen(2), probs=(0.0, 1.0, 0.0))
    assert (res.mode == RESIZEMIX).all()
    frames, joints = _window(res)
    for i in range(4):
        t = frames[i].nonzero().squeeze(1)
        v = joints[i].nonzero().squeeze(1)
        source = x[res.partner[i]][:, 2 * (t - t[0])][:, :, v]
        assert torch.equal(res.x[i][:, t][:, :, v], source)
        taken_t = (res.taken[i].amax(1) > 0).nonzero().squeeze(1)
        assert torch.equal(taken_t, torch.arange(2 * len(t)))
        assert torch.equal(res.taken[i].amax(0) > 0, joints[i])
    untouched = (res.own == 1)[:, None, :, :, None].expand_as(x)
    assert torch.equal(res.x[untouched], x[untouched])


def test_mixup_interpolates_with_the_partner():
    x = skeletons(16, dtype=torch.float64)
    res = skeleton_mix(x, gen(3), probs=(0.0, 0.0, 1.0))
    lam = res.taken[:, 0, 0]
    assert (res.mode == MIXUP).all() and lam.std() > 0.1
    assert torch.equal(res.taken, lam[:, None, None].expand_as(res.taken))
    torch.testing.assert_close(res.own, 1 - res.taken)
    w = lam[:, None, None, None, None]
    torch.testing.assert_close(res.x, (1 - w) * x + w * x[res.partner])


def test_mix_draws_mode_and_region_per_sample():
    res = skeleton_mix(skeletons(200), gen(4))
    counts = torch.bincount(res.mode, minlength=3).float() / 200
    assert abs(counts[0] - 0.5) < 0.12 and abs(counts[1] - 0.25) < 0.1 and abs(counts[2] - 0.25) < 0.1
    assert res.own.shape == res.taken.shape == (200, 50, 25) and res.partner.shape == (200,)
    boxes = (res.own[res.mode != MIXUP] < 1).flatten(1)
    assert len(boxes.unique(dim=0)) > 50


def test_mix_validates_ranges():
    with pytest.raises(ValueError, match="parts"):
        skeleton_mix(skeletons(4), gen(), parts=(0, 2))
    with pytest.raises(ValueError, match="units"):
        skeleton_mix(skeletons(4), gen(), units=(3, 13))
    with pytest.raises(ValueError, match="probabilities"):
        skeleton_mix(skeletons(4), gen(), probs=(0.5, 0.5, 0.5))


# ------------------------------------------------------------------ Eq. 7 and streams
def test_actionlet_combine_selects_by_mask():
    a, b = skeletons(4, seed=1), skeletons(4, seed=2)
    ones = torch.ones(4, 2, 13, 25)
    assert torch.equal(actionlet_combine(a, b, ones), a)
    assert torch.equal(actionlet_combine(a, b, torch.zeros_like(ones)), b)
    half = torch.zeros_like(ones)
    half[:, :, :, :10] = 1          # joints 0-9 actionlet, per body
    out = actionlet_combine(a, b, half)
    assert torch.equal(out[:, :, :, :10], a[:, :, :, :10]) and torch.equal(out[:, :, :, 10:], b[:, :, :, 10:])


def test_upsample_mask_is_linear_in_time_with_aligned_corners():
    ramp = torch.linspace(0, 1, 13)[None, None, :, None].expand(2, 2, 13, 25)
    up = upsample_mask(ramp, 50)
    assert up.shape == (2, 1, 50, 25, 2)
    torch.testing.assert_close(up[0, 0, :, 3, 1], torch.linspace(0, 1, 50))
    body = torch.zeros(1, 2, 13, 25)
    body[:, 1] = 1
    assert torch.equal(upsample_mask(body, 50)[..., 1], torch.ones(1, 1, 50, 25))
    assert torch.equal(upsample_mask(body, 50)[..., 0], torch.zeros(1, 1, 50, 25))


def test_combine_rejects_mismatched_mask():
    with pytest.raises(ValueError, match="mask"):
        actionlet_combine(skeletons(2), skeletons(2), torch.ones(2, 13, 25))
    with pytest.raises(ValueError, match="mask"):
        actionlet_combine(skeletons(2), skeletons(2), torch.ones(2, 1, 13, 25))


def test_streams():
    x = skeletons(4)
    assert to_stream(x, "joint") is x
    motion = to_stream(x, "motion")
    assert (motion[:, :, -1] == 0).all()
    torch.testing.assert_close(motion[:, :, :-1], x[:, :, 1:] - x[:, :, :-1])
    bone = to_stream(x, "bone")
    assert (bone[:, :, :, CENTER] == 0).all()
    for v in (0, 3, 7, 21, 24):
        torch.testing.assert_close(bone[:, :, :, v], x[:, :, :, v] - x[:, :, :, PARENTS[v]])
    with pytest.raises(ValueError, match="stream"):
        to_stream(x, "velocity")
