"""ActCLR (CVPR 2023): actionlet-dependent contrastive learning, one training step.

Per step (spec 5.2, paper 3.2), on raw joint positions ``x (N, 3, T, V, M)``:

1. momentum update of the key (offline) encoder;
2. four augmented views, converted to the trained stream afterwards: ``q_extreme`` (extreme),
   ``q`` (normal), ``p`` and ``k`` (two independent weak views);
3. anchor embedding (average motion, paper Eq. 2) through the key encoder;
4. key: key-encoder feature map (shuffle-BN), its actionlet and the SAFP embedding (Eq. 8);
5. actionlets of ``q`` and ``p`` for MATS (key encoder by default, Eq. 3-5), both before any
   branch as in the official step;
6. branch 1: ``A_q * q + (1 - A_q) * q_extreme`` (Eq. 7), target k;
   branch 2: ``A_p * AdaIN(p) + (1 - A_p) * Mix(AdaIN(p))``, target k;
   branch 3: ``Mix(p)``, target the saliency-weighted mix of k and the partner's key;
7. loss = sum of the branches' similarity-mining losses (Eq. 9); the key is enqueued.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from actclr.augment import MixResult, actionlet_combine, skeleton_adain, skeleton_mix, upsample_mask
from actclr.augment.adain import ADAIN_VARIANTS
from actclr.methods.actionlet import ACTIVATIONS, GRAD_ACTIVATIONS, SMOOTHING, actionlet_mask
from actclr.methods.anchor import ANCHORS, build_anchor
from actclr.methods.losses import similarity_mining_loss
from actclr.methods.moco import (
    MomentumContrast,
    full_precision,
    mean_pairwise_cosine,
    momentum_update,
    shuffled_forward,
    step_logs,
)
from actclr.methods.options import MomentumOptions
from actclr.methods.safp import safp_embedding
from actclr.models.encoder import Encoder
from actclr.models.modes import eval_mode

BRANCHES = (1, 2, 3)


@dataclass(frozen=True)
class ActCLROptions(MomentumOptions):
    """Settings of :class:`ActCLR`. Defaults follow the paper; ``OFFICIAL`` lists the settings
    that reproduce the official code instead (see ``docs/method.md``)."""

    METHOD = "actclr"

    view_extreme: str = "extreme"
    view_normal: str = "normal"
    view_weak: str = "weak"
    anchor: str = "dataset"  # dataset (paper Eq. 2) | batch (official: mean of the key batch)
    aux_forward: str = "eval"  # eval | train (official): BN/dropout mode of anchor + mask forwards
    mask_encoder: str = "key"  # key (paper: offline encoder) | query (official MATS masks)
    smoothing: str = "graph"  # graph (paper G_vv) | parts (official) | none
    activation: str = "threshold"  # threshold (paper) | gain_clip (official)
    threshold: float | None = 0.5  # fraction of the per-sample maximum; None = soft map
    gain: float = 1.0e8  # gain_clip only
    grad_activation: str = "relu"  # relu (paper sigma in Eq. 4) | none (official)
    safp_blend: float = 0.5  # weight of GAP in the key: 0.5 official, 0 = pure SAFP (paper)
    tau_q: float = 0.1
    tau_k: float = 0.04
    topk: int = 8192
    square_student: bool = False  # official: True
    exclude_above: float | None = None  # official: 0.95
    branches: tuple[int, ...] = BRANCHES
    adain: str = "paper"  # paper (Eq. 6) | bone_length (official joint stream)
    mix_parts: tuple[int, int] = (2, 3)
    mix_units: tuple[int, int] = (3, 5)
    mix_unit_frames: int = 4
    mix_probs: tuple[float, float, float] = (0.5, 0.25, 0.25)
    late_mix_from_epoch: int | None = 200  # branch 2 uses the late ranges from this epoch on (official)
    late_mix_parts: tuple[int, int] = (1, 2)
    late_mix_units: tuple[int, int] = (1, 3)
    saliency_tau: float = 0.1  # branch-3 saliency exp(A / tau)

    def __post_init__(self) -> None:
        choices = {"anchor": ANCHORS, "aux_forward": ("eval", "train"), "mask_encoder": ("key", "query"),
                   "smoothing": SMOOTHING, "activation": ACTIVATIONS, "grad_activation": GRAD_ACTIVATIONS,
                   "adain": ADAIN_VARIANTS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"method option {key}={getattr(self, key)!r}: "
                                 f"choose one of {', '.join(allowed)}")
        if not self.branches or set(self.branches) - set(BRANCHES):
            raise ValueError(f"method option branches={list(self.branches)}: "
                             f"a non-empty subset of {list(BRANCHES)}")


#: Settings that reproduce the official code (spec 8.1) on top of the defaults, joint stream.
#: ``adain: bone_length`` is the official joint-stream AdaIN; drop it for motion and bone streams
#: (their official AdaIN is the paper form or a bone rescaling).
OFFICIAL: dict[str, Any] = {
    "anchor": "batch", "aux_forward": "train", "mask_encoder": "query", "smoothing": "parts",
    "activation": "gain_clip", "grad_activation": "none", "safp_blend": 0.5,
    "square_student": True, "exclude_above": 0.95, "adain": "bone_length",
}


def saliency_mix_target(k: Tensor, mix: MixResult, saliency: Tensor, tau: float = 0.1) -> Tensor:
    """Branch-3 target ``normalize(c * k + p * k[partner])`` -> ``(N, D)``, weights per sample.

    ``saliency (N, 1, T, V, M)`` is the upsampled actionlet of the mixed view's input; with
    ``w = exp(saliency / tau)``, ``p`` is the share of the partner's saliency inside the region
    taken from it (``mix.taken``) and ``c`` the share of the sample's own saliency it keeps
    (``mix.own``), each averaged over bodies, then normalised so that ``c + p = 1``.
    """
    weight = torch.exp(saliency.squeeze(1) / tau)  # (N, T, V, M)

    def share(region: Tensor, w: Tensor) -> Tensor:
        return ((region.unsqueeze(-1) * w).sum((1, 2)) / (w + 1e-5).sum((1, 2))).mean(1)

    own = share(mix.own, weight)
    taken = share(mix.taken, weight[mix.partner])
    total = (own + taken).clamp_min(1e-12)
    return F.normalize((own / total)[:, None] * k + (taken / total)[:, None] * k[mix.partner], dim=1)


class ActCLR(MomentumContrast):
    """The ActCLR method (see the module docstring); ``training_step`` returns ``(loss, logs)``."""

    options: ActCLROptions

    def __init__(self, encoder: Encoder, augmenter, options: ActCLROptions = ActCLROptions(), *,
                 stream: str = "joint", average_motion: Tensor | None = None) -> None:
        if options.adain == "bone_length" and stream != "joint":
            raise ValueError(f"adain 'bone_length' needs the joint stream, got stream {stream!r}")
        if encoder.projector is None:
            raise ValueError("ActCLR needs an encoder with a projector (model.projector: null suits MoCo v2 "
                             "pretraining or an evaluation encoder)")
        super().__init__(encoder, augmenter, options, stream=stream)
        self.anchor = build_anchor(options.anchor, average_motion, stream)

    def _aux_mode(self, encoder: Encoder):
        """Context for the no-grad auxiliary forwards (anchor, MATS masks)."""
        return eval_mode(encoder) if self.options.aux_forward == "eval" else contextlib.nullcontext()

    def _actionlet(self, fmap: Tensor, encoder: Encoder, anchor_z: Tensor) -> Tensor:
        o = self.options
        assert encoder.projector is not None, "ActCLR needs an encoder with a projector"
        return actionlet_mask(fmap, encoder.projector, anchor_z, smoothing=o.smoothing,
                              activation=o.activation, threshold=o.threshold, gain=o.gain,
                              grad_activation=o.grad_activation)

    @torch.no_grad()
    def _mats_mask(self, x: Tensor, anchor_z: Tensor) -> Tensor:
        """Actionlet ``(N, M, T', V)`` of a query-side view from the mask encoder."""
        encoder = self.encoder_k if self.options.mask_encoder == "key" else self.encoder_q
        with self._aux_mode(encoder):
            fmap = encoder.feature_map(x)
        return self._actionlet(fmap, encoder, anchor_z)

    def _mix(self, x: Tensor, g: torch.Generator, epoch: int, late: bool) -> MixResult:
        o = self.options
        use_late = late and o.late_mix_from_epoch is not None and epoch >= o.late_mix_from_epoch
        with full_precision(x.device):
            return skeleton_mix(x, g, parts=o.late_mix_parts if use_late else o.mix_parts,
                                units=o.late_mix_units if use_late else o.mix_units,
                                unit_frames=o.mix_unit_frames, probs=o.mix_probs)

    def training_step(self, x: Tensor, epoch: int, g: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Steps 1-7 of the module docstring on joint positions ``x (N, 3, T, V, M)``."""
        o = self.options
        momentum_update(self.encoder_q, self.encoder_k, self.momentum)
        x_k = self.view(o.view_weak, x, g, epoch)
        x_p = self.view(o.view_weak, x, g, epoch) if {2, 3} & set(o.branches) else None
        x_q = self.view(o.view_normal, x, g, epoch) if 1 in o.branches else None
        x_e = self.view(o.view_extreme, x, g, epoch) if 1 in o.branches else None

        with torch.no_grad():
            with self._aux_mode(self.encoder_k):
                anchor_z = self.encoder_k.embed(self.anchor(x_k))[0]
            fmap_k = shuffled_forward(self.encoder_k.feature_map, x_k, g, self.bn_splits)
            mask_k = self._actionlet(fmap_k, self.encoder_k, anchor_z)
            assert self.encoder_k.projector is not None, "ActCLR needs an encoder with a projector"
            k = safp_embedding(self.encoder_k.projector, self.encoder_k.pool(fmap_k), fmap_k, mask_k,
                               o.safp_blend)
            bank, _ = self.comparison_bank(k)  # with the batch part, the own key is the top entry
            teacher = k @ bank.T
        # both MATS masks before any branch, as the official step: with masks from the query
        # encoder in train mode (OFFICIAL) the order decides its BatchNorm running statistics
        masks = {"key": mask_k}
        if 1 in o.branches:
            assert x_q is not None  # drawn above for branch 1
            masks["q"] = self._mats_mask(x_q, anchor_z)
        if x_p is not None:
            masks["p"] = self._mats_mask(x_p, anchor_z)

        def mining(student: Tensor, teacher_logits: Tensor) -> Tensor:
            return similarity_mining_loss(student, teacher_logits, bank, tau_q=o.tau_q,
                                          tau_k=o.tau_k, topk=o.topk, square_student=o.square_student,
                                          exclude_above=o.exclude_above)

        losses: dict[str, Tensor] = {}
        if 1 in o.branches:
            assert x_q is not None and x_e is not None  # drawn above for branch 1
            losses["loss_b1"] = mining(self.query(actionlet_combine(x_q, x_e, masks["q"])), teacher)
        if 2 in o.branches:
            assert x_p is not None  # drawn above for branches 2 and 3
            with full_precision(x_p.device):
                styled = skeleton_adain(x_p, g, variant=o.adain)
            mixed = self._mix(styled, g, epoch, late=True).x
            losses["loss_b2"] = mining(self.query(actionlet_combine(styled, mixed, masks["p"])), teacher)
        if 3 in o.branches:
            assert x_p is not None  # drawn above for branches 2 and 3
            mix = self._mix(x_p, g, epoch, late=False)
            with torch.no_grad():
                saliency = upsample_mask(masks["p"], x_p.shape[2])
                teacher_mix = saliency_mix_target(k, mix, saliency, o.saliency_tau) @ bank.T
            losses["loss_b3"] = mining(self.query(mix.x), teacher_mix)

        loss = torch.stack(list(losses.values())).sum()
        self.queue.enqueue(k)
        logs = {"loss": loss, **losses,
                **{f"actionlet_{name}": m.mean() for name, m in masks.items()},
                "actionlet_key_max": mask_k.amax(dim=(1, 2, 3)).mean(),
                "key_queue_top1": teacher.amax(dim=1).mean(), "key_cosine": mean_pairwise_cosine(k)}
        return loss, step_logs(logs)
