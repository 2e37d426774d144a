"""Similarity-mining loss (paper Eq. 9): KL between queue-similarity distributions of key and query."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def similarity_mining_loss(q: Tensor, teacher_logits: Tensor, queue_embeddings: Tensor, *,
                           tau_q: float = 0.1, tau_k: float = 0.04, topk: int = 8192,
                           square_student: bool = False,
                           exclude_above: float | None = None) -> Tensor:
    """``KL(p_k || p_q)`` over the teacher's top-k queue entries, averaged over the batch -> scalar.

    Args:
        q: ``(N, D)`` L2-normalised query embeddings (the student; gradients flow into it).
        teacher_logits: ``(N, K)`` cosine similarities of the key to the queue, ``k @ queue.T``
            (treated as constants).
        queue_embeddings: ``(K, D)`` the queue.
        tau_q, tau_k: student and teacher temperatures (paper: 0.1 and 0.04).
        topk: number of queue entries kept per sample, chosen by the teacher (clamped to ``K``).
        square_student: official option, student logits are the *squared* similarities.
        exclude_above: official option (0.95): teacher similarities above it are set to -1 before
            the top-k, which drops near-duplicates of the key such as its own older entries.

    The paper writes the cross-entropy ``-p_k log p_q``; with a constant teacher it differs from
    the KL only by the teacher entropy, so gradients are identical and the KL is 0 at agreement.
    """
    if q.ndim != 2 or teacher_logits.shape != (q.shape[0], queue_embeddings.shape[0]):
        raise ValueError(f"expected q (N, D), teacher_logits (N, K), queue (K, D); got "
                         f"{tuple(q.shape)}, {tuple(teacher_logits.shape)}, {tuple(queue_embeddings.shape)}")
    teacher = teacher_logits.detach()
    if exclude_above is not None:
        teacher = teacher.masked_fill(teacher > exclude_above, -1.0)
    values, index = teacher.topk(min(topk, teacher.shape[1]), dim=1)
    student = torch.gather(q @ queue_embeddings.detach().T, 1, index)
    if square_student:
        student = student.square()
    log_p_k = F.log_softmax(values / tau_k, dim=1)
    log_p_q = F.log_softmax(student / tau_q, dim=1)
    return F.kl_div(log_p_q, log_p_k, log_target=True, reduction="batchmean")
