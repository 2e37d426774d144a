"""MoCo v2 warm-up step on CPU with a tiny real encoder."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from methods_helpers import assert_only_query_gradients, batch, fixed_teacher_losses, make

from actclr.augment import build_augmenter
from actclr.methods import MoCoV2

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("extreme_loss", ["ddm", "infonce", "none"])
def test_step_returns_finite_loss_and_grads_on_query_only(extreme_loss):
    method = make("mocov2", extreme_loss=extreme_loss)
    assert isinstance(method, MoCoV2)
    loss, logs = method(batch(), 1, torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item()) and 0.0 <= logs["top1_positive"] <= 1.0
    extra = {f"loss_extreme_{extreme_loss}"} if extreme_loss != "none" else set()
    assert set(logs) == {"loss", "loss_infonce", "top1_positive", "key_cosine"} | extra
    assert -1.0 <= logs["key_cosine"] <= 1.0
    assert logs["loss"] == pytest.approx(sum(logs[k] for k in logs if k.startswith("loss_")), rel=1e-5)
    assert int(method.queue.ptr) == 4
    loss.backward()
    assert_only_query_gradients(method)


def test_a_few_steps_on_a_fixed_batch_lower_the_loss():
    losses = fixed_teacher_losses(make("mocov2"), batch(), steps=4)
    assert losses[-1] < losses[0], losses


def distinct_batch(n: int = 4) -> torch.Tensor:
    """``(n, 3, 20, 25, 2)``: sample i moves only joints 3i..3i+2 of its first body."""
    x = torch.zeros(n, 3, 20, 25, 2)
    for i in range(n):
        x[i, :, :, 3 * i:3 * i + 3, 0] = batch(1, seed=i)[0, :, :, :3, 0]
    return x


@torch.no_grad()
def centre_projector(encoder: torch.nn.Module, x: torch.Tensor) -> None:
    """Shift the projector's biases so that its layers' outputs have zero mean over ``x``.

    An untrained ST-GCN maps every input to nearly one direction (non-negative pooled features,
    biases that dominate): its embeddings sit at cosine 1.0000, and rankings among them are
    decided by float rounding, which differs between CPU vector units.
    """
    h = encoder(x)
    for layer in encoder.projector:
        if isinstance(layer, torch.nn.Linear):
            layer.bias -= layer(h).mean(0)
        h = layer(h)


@pytest.mark.parametrize("bank", ["batch", "queue+batch"])
def test_batch_banks_compare_with_the_other_current_keys(bank):
    method = make("mocov2", bank=bank, extreme_loss="infonce")
    x = batch()
    loss, logs = method(x, 1, torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item())
    loss.backward()
    assert_only_query_gradients(method)
    # with identical views and a key encoder equal to the query encoder, each query's own key is
    # its best match among the other current keys (and the queue), by a margin that no rounding
    # can close
    same = make("mocov2", bank=bank, extreme_loss="none", momentum=0.0, view_query="weak", view_key="weak")
    same.augmenter = build_augmenter({"views": {"weak": []}})
    same.eval()
    x = distinct_batch()
    centre_projector(same.encoder_q, x)
    with torch.no_grad():
        e = F.normalize(same.encoder_q.embed(x), dim=1)
        others = (e @ e.T).fill_diagonal_(-1.0).amax(1)
        if "queue" in bank:
            others = torch.maximum(others, (e @ same.queue.embeddings.T).amax(1))
    assert (others < 0.99).all(), others  # the property below is decided by a margin of >= 0.01
    _, logs = same(x, 1, torch.Generator().manual_seed(0))
    assert logs["top1_positive"] == 1.0


def test_bn_splits_key_forward_runs():
    method = make("mocov2", bn_splits=2, extreme_loss="none")
    loss, _ = method.training_step(batch(), 1, torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item())
