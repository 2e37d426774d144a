"""AimCLR step on CPU with a tiny real encoder: the drop, the losses before and after mining, recipes."""
from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from methods_helpers import assert_only_query_gradients, batch, fixed_teacher_losses, make

from actclr.augment import aimclr_views, build_augmenter, official_config, official_views
from actclr.engine.config import build_config, phase_config
from actclr.methods import AimCLR, method_defaults
from actclr.methods.aimclr import mined_positives
from actclr.methods.energy_drop import energy_drop, simam_attention
from actclr.methods.losses import ddm_loss, multi_positive_infonce
from actclr.methods.moco import momentum_update

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LOG_KEYS = {"loss", "loss_infonce", "loss_ddm_extreme", "loss_ddm_drop", "top1_positive", "key_cosine",
            "mined_positives", "drop_joints_kept", "drop_cells_kept"}


@pytest.mark.parametrize("epoch", [1, 150, 151])
def test_step_returns_finite_loss_and_grads_on_query_only(epoch):
    method = make("aimclr")
    assert isinstance(method, AimCLR) and method.mining(epoch) == (epoch > 150)
    loss, logs = method(batch(), epoch, torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item()) and set(logs) == LOG_KEYS
    assert logs["loss"] == pytest.approx(sum(logs[k] for k in logs if k.startswith("loss_")), rel=1e-5)
    assert (1.0 <= logs["mined_positives"] <= 3.0) if epoch > 150 else logs["mined_positives"] == 0.0
    assert 0.0 < logs["drop_joints_kept"] < 1.0 and 0.0 < logs["drop_cells_kept"] < 1.0  # the drop acts
    assert int(method.queue.ptr) == 4
    loss.backward()
    assert_only_query_gradients(method)


def test_energy_drop_drops_exactly_the_cells_above_the_threshold_and_rescales():
    # sample 0, one channel, T'=2, V=3: mean 3, d = (h - 3)^2 = [[1, 1, 1], [1, 1, 25]], d summed
    # 30 over T'V - 1 = 5 cells -> 6; attention sigmoid(d / 24.0004 + 0.5): 0.6322 for d = 1,
    # 0.8237 for d = 25. Cell (t=1, v=2) >= 0.7 is dropped; joint 2 has mean (0.6322 + 0.8237) / 2
    # = 0.7280 >= 0.7 and is dropped too. Sample 1 is constant: d = 0, attention sigmoid(0.5) =
    # 0.6225 everywhere, nothing dropped. Rescale over the batch: joints 6 / 5, cells 12 / 11.
    fmap = torch.tensor([[[[2.0, 2.0, 2.0], [2.0, 2.0, 8.0]]], [[[5.0] * 3] * 2]], dtype=torch.float64)
    fmap = fmap.view(2, 1, 1, 2, 3)
    attention = simam_attention(fmap)
    low, high = 1 / (1 + math.exp(-(1 / 24.0004 + 0.5))), 1 / (1 + math.exp(-(25 / 24.0004 + 0.5)))
    torch.testing.assert_close(attention[0, 0, 0], torch.tensor([[low, low, low], [low, low, high]],
                                                                dtype=torch.float64))
    torch.testing.assert_close(attention[1], torch.full((1, 1, 2, 3), 1 / (1 + math.exp(-0.5)), dtype=torch.float64))
    fmap.requires_grad_(True)
    out = energy_drop(fmap, threshold=0.7)
    assert out.joint_keep.tolist() == [[[1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0]]]
    assert out.cell_keep[0, 0, 0].tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
    assert out.cell_keep[1].min() == 1.0
    scale = (6 / 5) * (12 / 11)
    want = torch.tensor([[[2.0, 2.0, 0.0], [2.0, 2.0, 0.0]], [[5.0] * 3] * 2], dtype=torch.float64) * scale
    torch.testing.assert_close(out.features.detach().view(2, 2, 3), want)
    out.features.sum().backward()  # the masks are constants: d out / d fmap is the weight
    torch.testing.assert_close(fmap.grad.view(2, 2, 3), (want > 0).to(torch.float64) * scale)
    # a threshold above every attention value drops nothing and leaves the features unchanged
    torch.testing.assert_close(energy_drop(fmap.detach(), threshold=0.9).features, fmap.detach())


def test_losses_and_mined_positives_by_hand():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    log_p = [x - math.log(sum(math.exp(v) for v in (2.0, 1.0, 0.0, -1.0))) for x in (2.0, 1.0, 0.0, -1.0)]
    positives = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert multi_positive_infonce(logits, positives).item() == pytest.approx(-(log_p[0] + log_p[1]) / 2, rel=1e-6)
    student = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    log_s = [x - math.log(2 + 2 * math.e) for x in (0.0, 1.0, 0.0, 1.0)]
    want = -sum(math.exp(lp) * ls for lp, ls in zip(log_p, log_s))
    assert ddm_loss(student, logits).item() == pytest.approx(want, rel=1e-6)
    # row 0: q picks column 2, q_e and q_ed column 1; row 1: all three pick column 3
    q = torch.tensor([[5.0, 1.0, 3.0, 0.0], [9.0, 0.0, 1.0, 2.0]])
    e = torch.tensor([[5.0, 2.0, 0.0, 1.0], [9.0, 0.0, 1.0, 2.0]])
    ed = torch.tensor([[5.0, 3.0, 0.0, 1.0], [9.0, 1.0, 0.0, 4.0]])
    assert mined_positives([q, e, ed]).tolist() == [[1, 1, 1, 0], [1, 0, 0, 1]]
    assert mined_positives([q], topk=2).tolist() == [[1, 1, 1, 0], [1, 0, 1, 1]]
    assert mined_positives([q], topk=5).tolist() == [[1, 1, 1, 1]] * 2  # at most the K negatives


def reference_loss(method: AimCLR, x: torch.Tensor, epoch: int, seed: int) -> tuple[float, int]:
    """The official loss written out from the formulas, on a copy of ``method`` before the step:
    ``(loss, number of distinct mined entries summed over the batch)``."""
    m = copy.deepcopy(method)
    g = torch.Generator().manual_seed(seed)
    momentum_update(m.encoder_q, m.encoder_k, 0.999)
    x_k, x_q, x_e = (m.augmenter.view(name, x, g, epoch) for name in ("weak", "weak", "aimclr_extreme"))
    with torch.no_grad():
        k = F.normalize(m.encoder_k.embed(x_k), dim=1)
        q = F.normalize(m.encoder_q.embed(x_q), dim=1)
        fmap = m.encoder_q.feature_map(x_e)
        pooled = (fmap.mean(dim=(3, 4)).mean(dim=1), energy_drop(fmap).features.mean(dim=(3, 4)).mean(dim=1))
        q_e, q_ed = (F.normalize(m.encoder_q.projector(h), dim=1) for h in pooled)
        queue = m.queue.embeddings
        lq, le, led = (torch.cat([(z * k).sum(1, keepdim=True), z @ queue.T], 1) / 0.07 for z in (q, q_e, q_ed))
    target = lq.softmax(1)
    ddm = [-(target * torch.log(z.softmax(1))).sum(1).mean() for z in (le, led)]
    log_p = lq.log_softmax(1)
    if epoch <= 150:
        return (-log_p[:, 0].mean() + (ddm[0] + ddm[1]) / 2).item(), 0
    total, mined = 0.0, 0
    for i in range(x.shape[0]):
        picks = set()
        for z in (lq, le, led):
            top2 = z[i, 1:].topk(2).values
            assert top2[0] - top2[1] > 1e-3, "the top-1 entry must win by a margin"
            picks.add(1 + int(z[i, 1:].argmax()))
        total += -(log_p[i, 0] + sum(log_p[i, j] for j in picks)) / (1 + len(picks))
        mined += len(picks)
    return (total / x.shape[0] + (ddm[0] + ddm[1]) / 2).item(), mined


def spread_queue_near_the_keys(method: AimCLR) -> AimCLR:
    """One step, then a queue of the step's mean key plus noise: a non-trivial loss, and queue
    entries apart enough that no rounding decides the mined top-1 (the tiny untrained encoder
    gives all sequences nearly the same key)."""
    method(batch(), 1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        queue = method.queue.embeddings
        noise = torch.randn(queue.shape, generator=torch.Generator().manual_seed(2))
        queue.copy_(F.normalize(queue[:4].mean(0) + 0.5 * noise, dim=1))
    return method


@pytest.mark.parametrize("epoch", [150, 151])
def test_the_loss_before_and_after_the_mining_epoch_matches_the_official_formulas(epoch):
    method = spread_queue_near_the_keys(make("aimclr"))
    x = batch()
    want, mined = reference_loss(method, x, epoch, seed=2)
    loss, logs = method(x, epoch, torch.Generator().manual_seed(2))
    assert loss.item() == pytest.approx(want, rel=1e-4)
    assert logs["mined_positives"] * x.shape[0] == pytest.approx(mined)


def test_a_few_steps_on_a_fixed_batch_lower_the_loss():
    for epoch in (1, 151):
        method = spread_queue_near_the_keys(make("aimclr"))
        losses = fixed_teacher_losses(method, batch(), steps=4, epoch=epoch)
        assert losses[-1] < losses[0], (epoch, losses)


def test_aimclr_views_are_the_official_extreme_view_untouched_by_actclr_curriculum():
    extreme = aimclr_views()["aimclr_extreme"]
    assert [s["name"] for s in extreme] == ["crop", "shear", "flip", "rotate", "noise", "blur", "axis_mask"]
    assert next(s["std"] for s in extreme if s["name"] == "noise") == 0.01
    assert extreme == official_views()["normal"]
    assert set(official_views()) == {"weak", "normal", "extreme"}  # ActCLR's views are unchanged
    aug = build_augmenter(official_config())
    assert [len(aug.active("aimclr_extreme", e)) for e in (1, 150, 250, 300)] == [7, 7, 7, 7]
    assert [len(aug.active("normal", e)) for e in (1, 150, 250)] == [7, 5, 3]
    assert aug.active("weak", 300) == ["crop", "shear"]  # AimCLR's normal view


def test_recipes_are_the_official_aimclr_run_and_the_two_phase_procedure():
    aim = build_config("aimclr_ntu60-xview_joint_1xb128_300e")
    assert aim["method"] == {"name": "aimclr", **method_defaults("aimclr")}
    assert aim["method"]["queue_size"] == 32768 and aim["method"]["mining_epoch"] == 150
    assert aim["optim"] | {"betas": None} == {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False,
                                             "weight_decay": 1.0e-4, "betas": None}
    assert (aim["schedule"]["milestones"], aim["train"]["epochs"], aim["data"]["batch_size"]) == ([250], 300, 128)
    two = build_config("aimclr-warmup+actclr_ntu60-xview_joint_1xb128_650e")
    warm = phase_config(two, "warmup")
    assert warm["method"] == aim["method"] and warm["schedule"] == aim["schedule"]
    assert (two["warmup"]["epochs"], two["train"]["epochs"], two["method"]["name"]) == (300, 350, "actclr")
    assert phase_config(two, "main") == phase_config(build_config("actclr_ntu60-xview_joint_1xb128_350e"), "main")


def test_actclr_starts_from_the_aimclr_query_encoder_with_a_fresh_queue():
    warmup = make("aimclr", seed=1)
    warmup.training_step(batch(), 1, torch.Generator().manual_seed(0))
    method = make("actclr", seed=2)
    method.init_from(warmup)
    source = warmup.encoder_q.state_dict()
    for encoder in (method.encoder_q, method.encoder_k):
        assert all(torch.equal(v, source[key]) for key, v in encoder.state_dict().items())
    assert int(method.queue.ptr) == 0


def test_two_phase_run_aimclr_then_actclr(synth_dataset, tmp_path):
    from test_pretrain_run import pretrain

    run = tmp_path / "aimclr"
    pretrain(synth_dataset, run, "--epochs", "1", "--set", "warmup.epochs=2",
             "--set", "warmup.method={name: aimclr, queue_size: 16, mining_epoch: 1}",
             "--set", "monitor.every=0")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["phase_epoch"]) for r in rows] == [("warmup", 1), ("warmup", 2), ("main", 1)]
    assert rows[0]["mined_positives"] == 0 and rows[1]["mined_positives"] >= 1 and "loss_b1" in rows[2]
    assert all(math.isfinite(r["loss"]) for r in rows)
