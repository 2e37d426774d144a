"""Method registry, option parsing and the branch-3 saliency-weighted target."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actclr.augment import MixResult
from actclr.methods import METHODS, OFFICIAL, ActCLROptions, AimCLROptions, MoCoV2Options, build_method, method_defaults
from actclr.methods.actclr import saliency_mix_target


def test_defaults_round_trip_and_unknown_keys_fail():
    for name, (_, options_cls) in METHODS.items():
        defaults = method_defaults(name)
        assert options_cls.from_config({"name": name, **defaults}) == options_cls()
    parsed = ActCLROptions.from_config({"branches": [1, 3], "mix_parts": [1, 2], **OFFICIAL})
    assert parsed.branches == (1, 3) and parsed.mix_parts == (1, 2) and parsed.anchor == "batch"
    with pytest.raises(ValueError, match="smoothnig"):
        ActCLROptions.from_config({"smoothnig": "graph"})
    with pytest.raises(ValueError, match="extreme_loss"):
        MoCoV2Options(extreme_loss="mse")
    with pytest.raises(ValueError, match="branches"):
        ActCLROptions(branches=(4,))
    for bad, message in (({"mining_epoch": -1}, "mining_epoch"), ({"topk": 0}, "topk"),
                         ({"drop_threshold": 1.5}, "drop_threshold")):
        with pytest.raises(ValueError, match=message):
            AimCLROptions(**bad)
    with pytest.raises(KeyError, match="known: actclr, aimclr, mocov2"):
        method_defaults("simclr")
    with pytest.raises(ValueError, match="mocov2"):
        build_method("actclr", {"name": "mocov2"}, lambda: None)


def _mix(own: torch.Tensor, taken: torch.Tensor, partner: list[int]) -> MixResult:
    n = own.shape[0]
    return MixResult(torch.zeros(n, 3, own.shape[1], 25, 2), torch.tensor(partner), own, taken,
                     torch.zeros(n, dtype=torch.long))


def test_saliency_target_weights_are_per_sample():
    """Two samples (N=2 != D=3): sample 0 keeps 3/4 of itself, sample 1 half."""
    k = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    own = torch.ones(2, 4, 25)
    own[0, 3] = 0.0  # sample 0 gives away one frame of four
    own[1, 2:] = 0.0  # sample 1 gives away two frames
    taken = 1.0 - own  # the same frames taken from the partner
    flat = torch.zeros(2, 1, 4, 25, 2)  # uniform saliency: weights are area shares
    target = saliency_mix_target(k, _mix(own, taken, [1, 0]), flat)
    expected = F.normalize(torch.tensor([[0.75, 0.0, 0.25], [0.5, 0.0, 0.5]]), dim=1)
    torch.testing.assert_close(target, expected, atol=1e-4, rtol=1e-4)


def test_saliency_target_follows_the_actionlet():
    """Sample 0 replaces its frame 0 (its whole actionlet) by sample 1's frame 0 (sample 1's
    whole actionlet): although 3/4 of the area is its own, the target is the partner's key."""
    k = torch.eye(3)[:2]
    own = torch.ones(2, 4, 25)
    own[0, 0] = 0.0
    taken = torch.zeros(2, 4, 25)
    taken[0, 0] = 1.0
    saliency = torch.zeros(2, 1, 4, 25, 2)
    saliency[:, 0, 0] = 1.0  # both actionlets: frame 0, both bodies
    target = saliency_mix_target(k, _mix(own, taken, [1, 0]), saliency, tau=0.1)
    assert target[0, 1] > 0.99  # the partner's motion dominates sample 0's target
    flat = saliency_mix_target(k, _mix(own, taken, [1, 0]), torch.zeros_like(saliency))
    assert flat[0, 0] > flat[0, 1]  # without saliency the area share (3/4 own) dominates
