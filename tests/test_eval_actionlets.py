"""Scoring actionlet masks against synthetic ground truth (pure parts); region pooling (Fig. 3)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from methods_helpers import batch, tiny_encoder

from actclr.constants import REGIONS
from actclr.eval.actionlets import joint_masks, mask_share, read_ground_truth, score_actionlets
from actclr.eval.features import region_features
from actclr.methods.actionlet import actionlet_mask
from actclr.methods.anchor import DatasetAnchor


def test_mask_share_and_empty_mask():
    mask = np.zeros((4, 25))
    mask[:, [10, 11]] = 1.0
    mask[0, 3] = 2.0
    assert mask_share(mask, [10, 11]) == pytest.approx(8 / 10)
    assert mask_share(np.zeros((4, 25)), [1]) is None


def test_score_perfect_uniform_and_empty_masks():
    moving = {0: [10, 11, 23, 24], 1: [0, 1]}
    perfect = np.zeros((3, 25))
    perfect[:, moving[0]] = 1
    uniform = np.ones((3, 25))
    masks = np.stack([perfect, uniform, np.zeros((3, 25)), uniform])
    labels = np.array([0, 0, 1, 7])  # class 7 has no ground truth
    score = score_actionlets(masks, labels, moving)
    assert score["scored"] == 3 and score["unscored"] == 1
    shares = [1.0, 4 / 25, 2 / 25]  # the empty mask counts at chance
    assert score["share"] == pytest.approx(np.mean(shares))
    assert score["chance"] == pytest.approx(np.mean([4 / 25, 4 / 25, 2 / 25]))
    assert score["lift"] == pytest.approx(score["share"] / score["chance"])
    assert score["per_class_share"]["0"] == pytest.approx((1 + 4 / 25) / 2)
    with pytest.raises(ValueError, match="no sample has ground truth"):
        score_actionlets(masks[:1], np.array([5]), moving)


def test_joint_masks_ignore_absent_bodies():
    masks = np.zeros((2, 3, 25, 2))
    masks[:, :, 0, 1] = 1.0  # body 1 lights joint 0
    masks[:, :, 5, 0] = 0.5
    x = np.zeros((2, 3, 3, 25, 2))
    x[0, ..., 0] = 1.0  # sample 0: body 0 only
    x[1] = 1.0  # sample 1: both bodies
    out = joint_masks(masks, x)
    assert out[0, :, 0].max() == 0.0 and out[0, :, 5].min() == 0.5
    assert out[1, :, 0].min() == 1.0


def test_read_ground_truth_errors_name_the_file(tmp_path):
    good = tmp_path / "gt.json"
    good.write_text(json.dumps({"classes": {"3": {"moving_joints": [9, 8]}}}))
    assert read_ground_truth(good) == {3: [8, 9]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"labels": []}))
    with pytest.raises(ValueError, match="bad.json"):
        read_ground_truth(bad)



def test_region_features_split_global_pooling_into_actionlet_and_the_rest():
    torch.manual_seed(0)
    encoder, x = tiny_encoder(), batch(n=6)
    anchor = DatasetAnchor(x.mean(0))
    with torch.no_grad():  # train-mode BN: the untrained running statistics would flatten the map
        pooled = {region: region_features(encoder, x, anchor, region) for region in REGIONS}
        fmap = encoder.feature_map(x)
        mask = actionlet_mask(fmap, encoder.projector, encoder.embed(anchor(x))[0])  # paper defaults
    assert torch.allclose(pooled["whole"], encoder.pool(fmap))
    # binary masks: per body, GAP = share_A * mean over A + (1 - share_A) * mean over the rest
    share = mask.mean((2, 3))  # (N, M)
    assert set(mask.unique().tolist()) == {0.0, 1.0} and ((share > 0) & (share < 1)).all()
    per_body_act = (fmap * mask[:, :, None]).sum((3, 4)) / (mask.sum((2, 3))[..., None] + 1e-5)
    per_body_rest = (fmap * (1 - mask[:, :, None])).sum((3, 4)) / ((1 - mask).sum((2, 3))[..., None] + 1e-5)
    assert torch.allclose(pooled["actionlet"], per_body_act.mean(1), atol=1e-5)
    assert torch.allclose(pooled["non_actionlet"], per_body_rest.mean(1), atol=1e-5)
    recombined = (share[..., None] * per_body_act + (1 - share[..., None]) * per_body_rest).mean(1)
    assert torch.allclose(recombined, pooled["whole"], atol=1e-4)
    assert (pooled["actionlet"] - pooled["non_actionlet"]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="region must be one of"):
        region_features(encoder, x, anchor, "motion")
