"""AimCLR (Guo et al., AAAI 2022) as the official code runs it: phase 1 of the official ActCLR procedure.

Per step on raw joint positions ``x (N, 3, T, V, M)`` (spec section 4; ``Levigty/AimCLR``
``net/aimclr.py``, ``net/att_drop.py``, ``processor/pretrain_aimclr.py``):

1. momentum update of the key encoder; key ``k = f_k(x_k)`` (``view_key``, no grad, shuffle-BN);
2. ``q = f_q(x_q)`` (``view_query``); one forward of the extreme view ``x_e`` (``view_extreme``)
   gives ``q_e`` from its feature map and ``q_ed`` from the same map after the energy-based
   attention drop (:func:`actclr.methods.energy_drop.energy_drop`); all L2-normalised;
3. logits ``[z.k, z.bank] / tau`` for ``z`` in ``q, q_e, q_ed``;
4. epochs ``<= mining_epoch``: ``InfoNCE(logits_q) + (DDM(logits_e) + DDM(logits_ed)) / 2``, where
   DDM is the cross-entropy to ``softmax(logits_q)`` (detached); later epochs: nearest-neighbour
   mining, the InfoNCE term becomes the mean of ``-log softmax(logits_q)`` over the key and the
   top-``topk`` bank entries of each of ``q``, ``q_e`` and ``q_ed`` (DDM terms unchanged);
5. the key is enqueued.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from actclr.methods.energy_drop import energy_drop
from actclr.methods.losses import contrastive_logits, ddm_loss, infonce_loss, multi_positive_infonce
from actclr.methods.moco import MomentumContrast, mean_pairwise_cosine, step_logs
from actclr.methods.options import MomentumOptions


@dataclass(frozen=True)
class AimCLROptions(MomentumOptions):
    """Settings of :class:`AimCLR`; defaults are the original AimCLR configs (NTU-60 pretext)."""

    METHOD = "aimclr"

    queue_size: int = 32768  # the original configs (the ActCLR repo's retrain: 65536)
    tau: float = 0.07
    mining_epoch: int | None = 150  # mine from epoch mining_epoch + 1 on (1-based); None: never
    topk: int = 1  # mined bank entries per query embedding
    drop_threshold: float = 0.7  # official keep_prob: attention >= it is dropped
    drop_lambda: float = 1.0e-4  # SimAM's e_lambda
    view_query: str = "weak"  # AimCLR's "normal" augmentation: crop + shear
    view_key: str = "weak"
    view_extreme: str = "aimclr_extreme"

    def __post_init__(self) -> None:
        if self.mining_epoch is not None and (not isinstance(self.mining_epoch, int) or self.mining_epoch < 0):
            raise ValueError(f"method option mining_epoch={self.mining_epoch!r}: an epoch >= 0 or null")
        if not isinstance(self.topk, int) or self.topk < 1:
            raise ValueError(f"method option topk={self.topk!r}: a positive integer")
        if not 0.0 < self.drop_threshold <= 1.0:
            raise ValueError(f"method option drop_threshold={self.drop_threshold!r}: in (0, 1]")


def mined_positives(logits: list[Tensor], topk: int = 1) -> Tensor:
    """Positive mask ``(N, 1 + K)`` for contrastive ``logits`` (each ``(N, 1 + K)``, positive in
    column 0): column 0 and, for every tensor, its ``topk`` highest negative columns (the union;
    1 to ``len(logits) * topk`` mined entries per row; ``topk`` is clamped to the ``K`` negatives)."""
    mask = torch.zeros_like(logits[0])
    mask[:, 0] = 1.0
    k = min(topk, mask.shape[1] - 1)
    for z in logits:
        mask.scatter_(1, z.detach()[:, 1:].topk(k, dim=1).indices + 1, 1.0)
    return mask


class AimCLR(MomentumContrast):
    """The AimCLR method (see the module docstring); ``training_step`` returns ``(loss, logs)``."""

    options: AimCLROptions

    def mining(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (1-based, within the phase) uses nearest-neighbour mining."""
        return self.options.mining_epoch is not None and epoch > self.options.mining_epoch

    def training_step(self, x: Tensor, epoch: int, g: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Steps 1-5 of the module docstring on joint positions ``x (N, 3, T, V, M)``."""
        o = self.options
        k, bank, own = self.contrast_key(o.view_key, x, g, epoch)
        q = self.query(self.view(o.view_query, x, g, epoch))
        fmap = self.encoder_q.feature_map(self.view(o.view_extreme, x, g, epoch))
        drop = energy_drop(fmap, o.drop_threshold, o.drop_lambda)
        q_e, q_ed = (F.normalize(self.encoder_q.project(self.encoder_q.pool(f)), dim=1)
                     for f in (fmap, drop.features))
        logits, logits_e, logits_ed = (contrastive_logits(z, k, bank, o.tau, own) for z in (q, q_e, q_ed))
        if self.mining(epoch):
            positives = mined_positives([logits, logits_e, logits_ed], o.topk)
            infonce = multi_positive_infonce(logits, positives)
            mined = positives[:, 1:].sum(1).mean()
        else:
            infonce, mined = infonce_loss(logits), logits.new_zeros(())
        losses = {"loss_infonce": infonce, "loss_ddm_extreme": ddm_loss(logits_e, logits) / 2,
                  "loss_ddm_drop": ddm_loss(logits_ed, logits) / 2}
        loss = torch.stack(list(losses.values())).sum()
        self.queue.enqueue(k)
        accuracy = (logits.argmax(dim=1) == 0).float().mean()
        return loss, step_logs({"loss": loss, **losses, "top1_positive": accuracy,
                                "key_cosine": mean_pairwise_cosine(k), "mined_positives": mined,
                                "drop_joints_kept": drop.joint_keep.mean(),
                                "drop_cells_kept": drop.cell_keep.mean()})
