"""ActCLR training step on CPU with a tiny real encoder."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from methods_helpers import assert_only_query_gradients, batch, fixed_teacher_losses, make, tiny_encoder
from torch.nn.modules.batchnorm import _BatchNorm

from actclr.augment import build_augmenter, official_config, skeleton_mix
from actclr.methods import OFFICIAL, ActCLR, ActCLROptions, build_method
from actclr.methods.actionlet import actionlet_mask
from actclr.methods.anchor import BatchAnchor, DatasetAnchor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_step_returns_finite_loss_grads_on_query_only_and_enqueues():
    method = make("actclr", topk=16)
    assert isinstance(method, ActCLR) and isinstance(method.anchor, DatasetAnchor)
    x = batch()
    loss, logs = method(x, 1, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and math.isfinite(loss.item())
    assert set(logs) >= {"loss", "loss_b1", "loss_b2", "loss_b3", "actionlet_key", "actionlet_q",
                         "actionlet_p", "actionlet_key_max", "key_queue_top1", "key_cosine"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in logs.values())
    assert logs["loss"] == pytest.approx(logs["loss_b1"] + logs["loss_b2"] + logs["loss_b3"], rel=1e-5)
    assert all(0.0 <= logs[k] <= 1.0 for k in ("actionlet_key", "actionlet_q", "actionlet_p"))
    assert int(method.queue.ptr) == x.shape[0]
    loss.backward()
    assert_only_query_gradients(method)


def test_batch_bank_puts_the_own_key_at_the_top_of_the_teacher():
    method = make("actclr", bank="batch")
    loss, logs = method(batch(), 1, torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item()) and logs["key_queue_top1"] == pytest.approx(1.0, abs=1e-5)
    loss.backward()
    assert_only_query_gradients(method)


def test_real_encoder_masks_have_the_feature_map_shape_and_range():
    method = make("actclr")
    x = batch()
    with torch.no_grad():
        fmap = method.encoder_k.feature_map(x)
        anchor = method.encoder_k.embed(method.anchor(x))[0]
    for options in ({}, {"smoothing": "parts", "activation": "gain_clip", "grad_activation": "none"},
                    {"threshold": None}):
        mask = actionlet_mask(fmap, method.encoder_k.projector, anchor, **options)
        assert mask.shape == (4, 2, fmap.shape[3], 25)
        assert mask.min() >= 0 and mask.max() <= 1 and not mask.requires_grad
    assert all(p.grad is None for p in method.parameters())


def test_a_few_steps_on_a_fixed_batch_lower_the_loss():
    for options in ({}, OFFICIAL):
        losses = fixed_teacher_losses(make("actclr", topk=16, **options), batch(), steps=4)
        assert losses[-1] < losses[0], (options, losses)


def test_official_options_and_branch_subsets_run():
    method = make("actclr", branches=[1], **OFFICIAL)
    assert isinstance(method.anchor, BatchAnchor)
    loss, logs = method.training_step(batch(), 1, torch.Generator().manual_seed(0))
    assert "loss_b1" in logs and "loss_b2" not in logs and "actionlet_p" not in logs
    assert logs["loss"] == pytest.approx(logs["loss_b1"])
    late = make("actclr", branches=[2, 3], bn_splits=2, late_mix_from_epoch=2)
    _, logs = late.training_step(batch(), 2, torch.Generator().manual_seed(0))
    assert "loss_b1" not in logs and math.isfinite(logs["loss"])


def test_bone_length_adain_needs_the_joint_stream():
    with pytest.raises(ValueError, match="joint stream"):
        ActCLR(tiny_encoder(), build_augmenter(official_config()),
               ActCLROptions(adain="bone_length", anchor="batch"), stream="motion")


def test_eval_mode_auxiliary_forwards_leave_running_stats_alone():
    """With aux_forward=eval and the query encoder extracting masks, the query encoder's BN
    statistics change only through the three branch forwards (train mode)."""
    x = batch()
    counts = {}
    for aux in ("eval", "train"):
        method = make("actclr", mask_encoder="query", aux_forward=aux, topk=16)
        method.training_step(x, 1, torch.Generator().manual_seed(0))
        first_bn = next(m for m in method.encoder_q.modules() if isinstance(m, _BatchNorm))
        counts[aux] = int(first_bn.num_batches_tracked)
    assert counts == {"eval": 3, "train": 5}


def test_dataset_anchor_needs_the_average_motion():
    with pytest.raises(ValueError, match="average motion"):
        build_method("actclr", {"queue_size": 8}, tiny_encoder)
    with pytest.raises(ValueError, match=r"\(C, T, V, M\)"):
        make("actclr").anchor(batch(frames=30))


def test_init_from_warmup_copies_the_query_encoder_into_both_and_resets_the_queue():
    warmup = make("mocov2", seed=1)
    warmup.training_step(batch(), 1, torch.Generator().manual_seed(0))
    method = make("actclr", seed=2)
    method.queue.enqueue(torch.ones(3, 8))
    method.init_from(warmup)
    source = warmup.encoder_q.state_dict()
    for encoder in (method.encoder_q, method.encoder_k):
        for key, value in encoder.state_dict().items():
            assert torch.equal(value, source[key]), key
    assert int(method.queue.ptr) == 0
    torch.testing.assert_close(method.queue.embeddings.norm(dim=1), torch.ones(32))
    assert not any(p.requires_grad for p in method.encoder_k.parameters())


def test_branch_two_switches_to_the_late_mix_ranges_at_epoch_200():
    """Official ``if epoch < 200`` (1-based epochs): 199 early ranges, 200 late ranges."""
    method = make("actclr")
    o = method.options
    x = batch()
    for epoch, (parts, units) in ((199, (o.mix_parts, o.mix_units)), (200, (o.late_mix_parts, o.late_mix_units))):
        got = method._mix(x, torch.Generator().manual_seed(3), epoch, late=True)
        want = skeleton_mix(x, torch.Generator().manual_seed(3), parts=parts, units=units,
                            unit_frames=o.mix_unit_frames, probs=o.mix_probs)
        assert torch.equal(got.x, want.x) and torch.equal(got.partner, want.partner), epoch
    early = method._mix(x, torch.Generator().manual_seed(3), 200, late=False)
    want = skeleton_mix(x, torch.Generator().manual_seed(3), parts=o.mix_parts, units=o.mix_units,
                        unit_frames=o.mix_unit_frames, probs=o.mix_probs)
    assert torch.equal(early.x, want.x)  # branch 3 always keeps the default ranges


def test_query_bn_statistics_follow_the_official_order_of_forwards():
    """Official step: both MATS masks (no-grad, train mode, query encoder) before the three
    branches. Replaying the query encoder's inputs in that order on its initial copy gives the
    running statistics of one step."""
    method = make("actclr", topk=16, **OFFICIAL)
    initial = copy.deepcopy(method.encoder_q)
    calls: list[tuple[bool, torch.Tensor]] = []
    hook = method.encoder_q.backbone.register_forward_pre_hook(
        lambda _, args: calls.append((torch.is_grad_enabled(), args[0].detach().clone())))
    method.training_step(batch(), 1, torch.Generator().manual_seed(0))
    hook.remove()
    assert [grad for grad, _ in calls] == [False, False, True, True, True]
    with torch.no_grad():
        for _, x in sorted(calls, key=lambda call: call[0]):  # stable: masks q, p, then branches 1-3
            initial.feature_map(x)
    for (name, got), want in zip(method.encoder_q.named_buffers(), initial.buffers()):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=name)
