"""Views built from YAML-style configuration, and the epoch curriculum."""
from __future__ import annotations

import pytest
import torch
import yaml
from augment_helpers import gen, skeletons

from actclr.augment import (
    AugmentConfigError,
    build_augmenter,
    effects,
    official_config,
    official_curriculum,
    official_views,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = """
views:
  weak:    [{name: crop, pad: 8}, {name: shear, amplitude: 0.5}]
  normal:  [{name: crop, pad: 8}, shear, {name: flip, p: 0.5}, rotate, {name: noise, std: 0.01, p: 0.5},
            {name: blur, p: 0.5}, {name: axis_mask, p: 0.5}]
  extreme: [crop, shear, flip, rotate, {name: noise, std: 0.05}, blur, axis_mask, speed, bone_shrink]
seed: 3
curriculum:
  - {after_epoch: 100, keep: {normal: 3, extreme: 5}}
  - {after_epoch: 200, keep: {normal: 1, extreme: 3}}
  - {after_epoch: 300, keep: {normal: 0, extreme: 0}, base: off}
"""


def augmenter():
    return build_augmenter(yaml.safe_load(CONFIG))


def test_views_from_yaml_config():
    aug = augmenter()
    assert aug.names == ("weak", "normal", "extreme")
    assert aug.active("normal", 1) == ["crop", "shear", "flip", "rotate", "noise", "blur", "axis_mask"]
    assert aug.active("weak", 1) == ["crop", "shear"]
    x = skeletons(8)
    views = aug(x, gen(), epoch=1)
    assert set(views) == {"weak", "normal", "extreme"}
    assert all(v.shape == x.shape and v.dtype == x.dtype for v in views.values())
    assert len({v.sum().item() for v in views.values()}) == 3
    assert set(aug(x, gen(), epoch=1, names=["extreme"])) == {"extreme"}


#: Every effect kind: a coordinate map after noise (axis mask, rotate), mirroring, frame maps on a
#: subset and on every sample, joint maps, noises (one gating no sample), and AdaIN splitting the view.
FUSION_CONFIG = {"views": {"all": [
    {"name": "crop", "mode": "resize"}, "shear", {"name": "flip", "mirror": True},
    {"name": "noise", "std": 0.05}, {"name": "noise", "p": 0.0}, "temporal_flip", "rotate", "blur",
    {"name": "axis_mask", "p": 0.8},
    {"name": "speed", "p": 0.7}, "bone_shrink", "adain", {"name": "crop", "pad": 4, "padding": "edge"},
    {"name": "noise", "std": 0.1, "p": 1.0}, {"name": "shear", "amplitude": 0.3}]}}


def sequential(steps, x, g):
    for step in steps:
        x = step(x, g)
    return x


@pytest.mark.parametrize("block_bytes", [effects.BLOCK_BYTES, 1 << 16])      # one block / 1-2 samples
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config, name", [(yaml.safe_load(CONFIG), "normal"), (official_config(), "weak"),
                                          (official_config(), "normal"), (official_config(), "extreme"),
                                          (FUSION_CONFIG, "all")])
def test_fused_view_equals_its_steps_applied_in_order(config, name, dtype, block_bytes, monkeypatch):
    monkeypatch.setattr(effects, "BLOCK_BYTES", block_bytes)
    aug, x = build_augmenter(config), skeletons(16, dtype=dtype)
    fused_g, sequential_g = gen(7), gen(7)
    fused = aug.view(name, x, fused_g, 1)
    expected = sequential(aug.steps(name, 1), x, sequential_g)
    assert torch.equal(fused_g.get_state(), sequential_g.get_state())        # same draws
    tolerance = {"atol": 1e-4, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12, "rtol": 1e-12}
    torch.testing.assert_close(fused, expected, **tolerance)
    assert not torch.equal(fused, x) and torch.equal(x, skeletons(16, dtype=dtype))   # input untouched
    assert torch.equal(aug.view(name, x, gen(7), 1), fused)
    assert not torch.equal(aug.view(name, x, gen(8), 1), fused)


def test_curriculum_keeps_k_optional_transforms_then_switches_everything_off():
    aug = augmenter()
    for epoch, normal, extreme in ((100, 7, 9), (101, 5, 7), (200, 5, 7), (201, 3, 5), (300, 3, 5)):
        assert len(aug.active("normal", epoch)) == normal and len(aug.active("extreme", epoch)) == extreme
        assert aug.active("normal", epoch)[:2] == ["crop", "shear"]
        assert aug.active("weak", epoch) == ["crop", "shear"]
    for name in aug.names:
        assert aug.active(name, 301) == [] and aug.active(name, 350) == []
    x = skeletons(4)
    assert torch.equal(aug.view("extreme", x, gen(), 320), x)


def test_curriculum_subset_is_reproducible_per_epoch_and_keeps_config_order():
    a, b = augmenter(), augmenter()          # e.g. two ranks
    subsets = set()
    order = ["crop", "shear", "flip", "rotate", "noise", "blur", "axis_mask", "speed", "bone_shrink"]
    for epoch in range(101, 141):
        active = a.active("extreme", epoch)
        assert active == b.active("extreme", epoch) == a.active("extreme", epoch)
        assert active == sorted(active, key=order.index)
        subsets.add(tuple(active))
    assert len(subsets) > 10
    reseeded = build_augmenter({**yaml.safe_load(CONFIG), "seed": 4})
    assert any(reseeded.active("extreme", e) != a.active("extreme", e) for e in range(101, 111))


def test_official_presets_match_the_spec():
    views = official_views()
    assert [s["name"] for s in views["weak"]] == ["crop", "shear"]
    assert [s["name"] for s in views["extreme"]][-2:] == ["speed", "bone_shrink"]
    noise = {v: next(s["std"] for s in views[v] if s["name"] == "noise") for v in ("normal", "extreme")}
    assert noise == {"normal": 0.01, "extreme": 0.05}
    blur = next(s for s in views["normal"] if s["name"] == "blur")
    assert blur["normalize"] is False and blur["padding"] == "zeros"
    assert [s["after_epoch"] for s in official_curriculum()] == [100, 200, 300]
    aug = build_augmenter(yaml.safe_load(yaml.safe_dump(official_config())))     # YAML-safe
    assert [len(aug.active("extreme", e)) for e in (1, 150, 250, 301)] == [9, 7, 5, 0]
    assert [len(aug.active("normal", e)) for e in (1, 150, 250, 301)] == [7, 5, 3, 0]


@pytest.mark.parametrize("cfg, message", [
    ({"views": {"v": [{"name": "blurr"}]}}, "view 'v', step 1: unknown transform 'blurr'"),
    ({"views": {"v": [{"name": "blur", "sigmas": 1}]}}, "view 'v', step 1 \\(blur\\): bad parameters"),
    ({"views": {"v": ["crop", {"p": 1}]}}, "view 'v', step 2"),
    ({"views": {"v": "crop"}}, "view 'v': expected a list"),
    ({"views": {}}, "non-empty 'views'"),
    ({"views": {"v": ["crop"]}, "epochs": 3}, "unknown keys"),
    ({"views": {"v": ["crop", "flip"]}, "curriculum": [{"after_epoch": 5, "keep": {"v": 2}}]}, "stage 1: keep v"),
    ({"views": {"v": ["crop"]}, "curriculum": [{"after_epoch": 5, "keep": {"w": 0}}]}, "unknown view 'w'"),
    ({"views": {"v": ["crop"]}, "curriculum": [{"after_epoch": 5, "base": "maybe"}]}, "base must be on/off"),
    ({"views": {"v": ["crop"]}, "curriculum": [{"after_epoch": 5}, {"after_epoch": 5}]}, "must increase"),
])
def test_bad_configs_are_rejected_with_a_clear_message(cfg, message):
    with pytest.raises(AugmentConfigError, match=message):
        build_augmenter(cfg)


def test_unknown_view_and_bad_epoch():
    aug = augmenter()
    with pytest.raises(KeyError, match="unknown view 'strong'"):
        aug.active("strong", 1)
    with pytest.raises(ValueError, match="1-based"):
        aug.active("weak", 0)
