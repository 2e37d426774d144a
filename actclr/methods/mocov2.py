"""MoCo v2 warm-up phase (the official recipe trains AimCLR before ActCLR, spec section 4).

Per step: InfoNCE (tau 0.07) between the normal-view query and the weak-view key against the
bank's negatives (option ``bank``: the queue by default, or the other current keys, or both);
optionally the extreme view contributes either AimCLR's distributional divergence term
(``extreme_loss: ddm``, default: the extreme view's distribution over [positive, negatives]
follows the normal view's) or a second InfoNCE term (``extreme_loss: infonce``). AimCLR's
energy-based drop branch and its nearest-neighbour mining are not included: the ``aimclr``
method (``aimclr.py``) is the full AimCLR.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from actclr.methods.losses import contrastive_logits, ddm_loss, infonce_loss
from actclr.methods.moco import MomentumContrast, mean_pairwise_cosine, step_logs
from actclr.methods.options import MomentumOptions

EXTREME_LOSSES = ("ddm", "infonce", "none")


@dataclass(frozen=True)
class MoCoV2Options(MomentumOptions):
    """Settings of :class:`MoCoV2`."""

    METHOD = "mocov2"

    tau: float = 0.07
    view_query: str = "normal"
    view_key: str = "weak"
    view_extreme: str = "extreme"
    extreme_loss: str = "ddm"  # ddm (AimCLR) | infonce | none (plain MoCo v2)
    extreme_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.extreme_loss not in EXTREME_LOSSES:
            raise ValueError(f"method option extreme_loss={self.extreme_loss!r}: choose one of "
                             f"{', '.join(EXTREME_LOSSES)}")


class MoCoV2(MomentumContrast):
    """MoCo v2 with an optional extreme-view term; ``training_step`` returns ``(loss, logs)``."""

    options: MoCoV2Options

    def training_step(self, x: Tensor, epoch: int, g: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """InfoNCE (+ extreme-view term) on joint positions ``x (N, 3, T, V, M)``; enqueues the key."""
        o = self.options
        k, bank, own = self.contrast_key(o.view_key, x, g, epoch)
        logits = contrastive_logits(self.query(self.view(o.view_query, x, g, epoch)), k,
                                    bank, o.tau, own)
        losses = {"loss_infonce": infonce_loss(logits)}
        if o.extreme_loss != "none":
            logits_e = contrastive_logits(self.query(self.view(o.view_extreme, x, g, epoch)), k,
                                          bank, o.tau, own)
            term = ddm_loss(logits_e, logits) if o.extreme_loss == "ddm" else infonce_loss(logits_e)
            losses[f"loss_extreme_{o.extreme_loss}"] = o.extreme_weight * term
        loss = torch.stack(list(losses.values())).sum()
        self.queue.enqueue(k)
        accuracy = (logits.argmax(dim=1) == 0).float().mean()
        return loss, step_logs({"loss": loss, **losses, "top1_positive": accuracy,
                                "key_cosine": mean_pairwise_cosine(k)})
