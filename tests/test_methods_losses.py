"""Similarity-mining (Eq. 9), InfoNCE and DDM against hand-computed small cases."""
from __future__ import annotations

import math

import pytest
import torch

from actclr.methods.losses import contrastive_logits, ddm_loss, infonce_loss, similarity_mining_loss

QUEUE = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
KEY = torch.tensor([[0.6, 0.8]])  # teacher similarities to the queue: [0.6, 0.8, -0.6]


def _kl(teacher: list[float], tau_k: float, student: list[float], tau_q: float) -> float:
    def softmax(v, tau):
        e = [math.exp(a / tau) for a in v]
        return [a / sum(e) for a in e]

    p, q = softmax(teacher, tau_k), softmax(student, tau_q)
    return sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q))


def test_similarity_mining_matches_hand_computation_with_topk():
    q = torch.tensor([[1.0, 0.0]])  # student similarities [1, 0, -1]
    loss = similarity_mining_loss(q, KEY @ QUEUE.T, QUEUE, tau_q=0.1, tau_k=0.04, topk=2)
    # top-2 of the teacher: entries 1 (0.8) and 0 (0.6)
    expected = _kl([0.8, 0.6], 0.04, [0.0, 1.0], 0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_topk_is_clamped_to_the_queue_size_and_loss_is_zero_at_agreement():
    q = KEY.clone()
    loss = similarity_mining_loss(q, KEY @ QUEUE.T, QUEUE, tau_q=0.04, tau_k=0.04, topk=8192)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    other = similarity_mining_loss(torch.tensor([[0.0, -1.0]]), KEY @ QUEUE.T, QUEUE, topk=8192)
    expected = _kl([0.6, 0.8, -0.6], 0.04, [0.0, -1.0, 0.0], 0.1)
    assert other.item() == pytest.approx(expected, rel=1e-5)


def test_official_options_square_student_and_exclude_duplicates():
    q = torch.tensor([[-0.6, 0.8]])  # student similarities [-0.6, 0.8, 0.6]
    loss = similarity_mining_loss(q, KEY @ QUEUE.T, QUEUE, topk=2, square_student=True, exclude_above=0.7)
    # 0.8 > 0.7 becomes -1: the top-2 are entries 0 (0.6) and 2 (-0.6); student squared [0.36, 0.36]
    expected = _kl([0.6, -0.6], 0.04, [0.36, 0.36], 0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_similarity_mining_is_a_batch_mean_and_grads_reach_only_the_student():
    q = torch.tensor([[1.0, 0.0], [0.0, -1.0]], requires_grad=True)
    keys = torch.cat([KEY, KEY])
    teacher = (keys @ QUEUE.T).requires_grad_(True)
    loss = similarity_mining_loss(q, teacher, QUEUE, topk=3)
    each = [similarity_mining_loss(q[i:i + 1], teacher[i:i + 1], QUEUE, topk=3) for i in range(2)]
    assert loss.item() == pytest.approx(sum(e.item() for e in each) / 2, rel=1e-6)
    loss.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0 and teacher.grad is None
    with pytest.raises(ValueError, match="teacher_logits"):
        similarity_mining_loss(q, teacher[:, :2], QUEUE)


def test_infonce_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.6, 0.8]])
    logits = contrastive_logits(q, k, QUEUE, tau=0.5)
    torch.testing.assert_close(logits, torch.tensor([[1.2, 2.0, 0.0, -2.0]]))
    denominator = sum(math.exp(v) for v in (1.2, 2.0, 0.0, -2.0))
    assert infonce_loss(logits).item() == pytest.approx(-math.log(math.exp(1.2) / denominator), rel=1e-6)


def test_infonce_with_the_current_keys_as_bank_is_in_batch_cross_entropy():
    q = torch.nn.functional.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    k = torch.nn.functional.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    logits = contrastive_logits(q, k, k, tau=0.2, own=torch.arange(5))
    assert logits.shape == (5, 5)  # positive + the 4 other keys; the own key is not a negative
    in_batch = torch.nn.functional.cross_entropy(q @ k.T / 0.2, torch.arange(5))
    assert infonce_loss(logits).item() == pytest.approx(in_batch.item(), rel=1e-6)
    # own keys placed after two queue-like entries (as in the bank of another rank)
    others = torch.eye(2, 8)
    logits = contrastive_logits(q, k, torch.cat([others, k]), tau=0.2, own=torch.arange(5) + 2)
    torch.testing.assert_close(logits[:, 1:3], q[:, :2] / 0.2)
    assert logits.shape == (5, 1 + 2 + 4)


def test_ddm_is_cross_entropy_to_the_detached_teacher_distribution():
    student = torch.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    teacher = torch.tensor([[2.0, 0.0, 0.0]], requires_grad=True)
    p = torch.softmax(teacher.detach(), 1)
    expected = -(p * torch.log_softmax(student.detach(), 1)).sum()
    loss = ddm_loss(student, teacher)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0
