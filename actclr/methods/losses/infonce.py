"""InfoNCE (MoCo v2, paper Eq. 1), its multi-positive form (AimCLR's nearest-neighbour mining) and
AimCLR's distributional divergence term, for the warm-up phase."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def contrastive_logits(q: Tensor, k: Tensor, bank: Tensor, tau: float = 0.07,
                       own: Tensor | None = None) -> Tensor:
    """MoCo logits ``[q.k, q.bank] / tau`` -> ``(N, 1 + K)``; column 0 is the positive.

    ``q (N, D)`` and ``k (N, D)`` are L2-normalised; ``k`` and the bank ``(K, D)`` (the queue,
    and/or the current keys) are constants. ``own (N,)``, when the bank holds the current keys,
    is the bank index of each row's own key: that entry is the positive, not a negative, so it
    is left out of the row's negatives and the result is ``(N, K)``.
    """
    positive = (q * k.detach()).sum(1, keepdim=True)
    negative = q @ bank.detach().T
    if own is not None:
        others = torch.ones_like(negative, dtype=torch.bool).scatter(1, own[:, None], False)
        negative = negative[others].view(negative.shape[0], -1)
    return torch.cat([positive, negative], dim=1) / tau


def infonce_loss(logits: Tensor) -> Tensor:
    """Cross-entropy with the positive in column 0 of ``logits (N, 1 + K)`` -> scalar (batch mean)."""
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


def multi_positive_infonce(logits: Tensor, positives: Tensor) -> Tensor:
    """Mean over each row's positives of ``-log softmax(logits)`` -> scalar (batch mean).

    ``logits (N, 1 + K)``; ``positives (N, 1 + K)`` is 1 at each row's positives (column 0, the
    key, and any mined entries) and 0 elsewhere. With only column 0 it is :func:`infonce_loss`.
    """
    return (-(F.log_softmax(logits, dim=1) * positives).sum(1) / positives.sum(1)).mean()


def ddm_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """AimCLR's distributional divergence minimisation: ``-softmax(teacher) . log_softmax(student)``.

    Both ``(N, 1 + K)`` contrastive logits; the teacher (normally-augmented query) is detached, so
    the extreme view learns to reproduce the normal view's distribution over positive and queue.
    """
    return F.cross_entropy(student_logits, F.softmax(teacher_logits.detach(), dim=1))
