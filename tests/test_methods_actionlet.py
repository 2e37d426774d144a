"""Unsupervised actionlets (Eq. 3-5) on hand-built feature maps with a known answer."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actclr.methods.actionlet import actionlet_mask, difference_gradient
from actclr.skeleton import BODY_PARTS

MOVING = (7, 11)  # left and right hand


def _toy(n: int = 2, frames: int = 3) -> tuple[torch.Tensor, nn.Module, torch.Tensor]:
    """Channel 0 fires only on the moving joints, channel 1 everywhere; the anchor is static.

    With an identity projector, raising channel 0 lowers the similarity to the anchor, so the
    difference map must select exactly the moving joints.
    """
    fmap = torch.zeros(n, 2, 2, frames, 25)  # (N, M, C, T', V); body 2 absent (zeros)
    fmap[:, 0, 0, :, list(MOVING)] = 1.0
    fmap[:, 0, 1] = 1.0
    projector = nn.Linear(2, 2)
    with torch.no_grad():
        projector.weight.copy_(torch.eye(2))
        projector.bias.zero_()
    return fmap, projector, torch.tensor([0.0, 1.0])


def test_difference_gradient_is_the_per_sample_cosine_gradient():
    projector = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3))
    pooled, anchor = torch.randn(5, 4), torch.randn(3)
    grad = difference_gradient(pooled, projector, anchor)
    assert all(p.grad is None for p in projector.parameters())  # nothing left on parameters
    for i in range(5):
        x = pooled[i:i + 1].clone().requires_grad_(True)
        (-F.cosine_similarity(projector(x), anchor[None], dim=1)).sum().backward()
        torch.testing.assert_close(grad[i:i + 1], x.grad)


def test_threshold_mask_selects_the_moving_joints():
    fmap, projector, anchor = _toy()
    mask = actionlet_mask(fmap, projector, anchor, smoothing="none", activation="threshold", threshold=0.5)
    assert mask.shape == (2, 2, 3, 25)
    expected = torch.zeros(2, 2, 3, 25)
    expected[:, 0, :, list(MOVING)] = 1.0
    torch.testing.assert_close(mask, expected)


def test_soft_and_smoothed_masks_weigh_moving_joints_more():
    fmap, projector, anchor = _toy()
    static = [v for v in range(25) if v not in MOVING]
    for smoothing in ("parts", "none"):
        mask = actionlet_mask(fmap, projector, anchor, smoothing=smoothing, threshold=None)
        assert mask.min() >= 0.0 and mask.max() == pytest.approx(1.0)
        body = mask[:, 0]
        assert body[..., list(MOVING)].min() > body[..., static].mean()
    parts = actionlet_mask(fmap, projector, anchor, smoothing="parts", threshold=None)[0, 0, 0]
    arm = next(p for p in BODY_PARTS if MOVING[0] in p)
    assert torch.allclose(parts[list(arm)], parts[arm[0]].expand(len(arm)))  # constant within a part
    leg = BODY_PARTS[-1]
    assert parts[list(leg)].max() == 0.0


def test_graph_smoothing_spreads_to_neighbours_only():
    fmap, projector, anchor = _toy()
    mask = actionlet_mask(fmap, projector, anchor, smoothing="graph", threshold=None)[0, 0, 0]
    assert mask[list(MOVING)].min() > 0
    assert mask[6] > 0  # wrist, next to the left hand
    assert mask[14] == 0  # left ankle, far away
    assert mask[list(MOVING)].min() >= mask[6]


def test_official_gain_clip_matches_a_full_backward_reference():
    """The analytic pooled-gradient shortcut equals the official dense backward + Grad-CAM."""
    torch.manual_seed(0)
    n, bodies, channels, frames, joints = 3, 2, 6, 4, 25
    fmap = torch.rand(n, bodies, channels, frames, joints)
    projector = nn.Sequential(nn.Linear(channels, 8), nn.ReLU(), nn.Linear(8, 5))
    anchor = torch.randn(5)

    def reference(gain: float) -> torch.Tensor:
        y = fmap.clone().requires_grad_(True)
        z = projector(y.mean(dim=(3, 4)).mean(1))
        s = F.cosine_similarity(z, anchor[None], dim=1).mean()
        (grad,) = torch.autograd.grad(1 - s, y)
        alpha = grad.mean(dim=(3, 4), keepdim=True)
        cam = (alpha * y).mean(2).relu() * gain  # (N, M, T', V)
        for part in BODY_PARTS:
            cam[..., list(part)] = cam[..., list(part)].mean(-1, keepdim=True)
        return cam.clamp(0, 1).detach()

    raw = reference(1.0)
    gain = 1.0 / raw[raw > 0].median().item()  # keep part of the map below saturation
    expected = reference(gain)
    assert 0 < (expected < 1).float().mean() < 1
    mask = actionlet_mask(fmap, projector, anchor, smoothing="parts", activation="gain_clip",
                          gain=gain, grad_activation="none")
    torch.testing.assert_close(mask, expected, rtol=1e-4, atol=1e-6)
    assert not mask.requires_grad
    assert all(p.grad is None for p in projector.parameters())


def test_empty_map_gives_the_whole_skeleton_and_bad_options_fail():
    fmap, projector, anchor = _toy()
    mask = actionlet_mask(torch.zeros_like(fmap), projector, anchor, smoothing="none")
    torch.testing.assert_close(mask, torch.ones(2, 2, 3, 25))  # no actionlet found
    with pytest.raises(ValueError, match="smoothing"):
        actionlet_mask(fmap, projector, anchor, smoothing="blur")
    with pytest.raises(ValueError, match="activation"):
        actionlet_mask(fmap, projector, anchor, activation="sigmoid")
    with pytest.raises(ValueError, match=r"\(N, M, C, T', V\)"):
        actionlet_mask(fmap[0], projector, anchor)
