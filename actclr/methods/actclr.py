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

The ablation options (paper Tables 7-9: ``transforms``, ``extreme_region``, ``mix_region``,
``safp``) remove or move parts of steps 2, 4 and 6; their defaults are the full method.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from actclr.augment import MixResult, actionlet_combine, skeleton_adain, skeleton_mix, to_stream, upsample_mask
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
#: ``transforms`` (paper Table 8): the full method, w/o T_non, w/o (AdaIN + T_non), w/o T.
TRANSFORMS = ("full", "no_non_actionlet", "actionlet_only", "none")
#: ``extreme_region`` / ``mix_region`` (paper Table 7): where a non-actionlet transformation acts.
REGIONS = ("non_actionlet", "full")
#: ``safp`` (paper Table 9): which side pools with SAFP (Eq. 8); the other side uses GAP.
SAFP_SIDES = ("key", "query", "both", "none")


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
    # --- ablations (paper Tables 7-9; docs/method.md "Ablations"). Defaults: the full method. ---
    transforms: str = "full"  # Table 8: full | no_non_actionlet | actionlet_only | none (w/o T)
    extreme_region: str = "non_actionlet"  # Table 7, branch 1: extreme view outside A_q (Eq. 7) | full
    mix_region: str = "non_actionlet"  # Table 7, branch 2: Skeleton Mix outside A_p (Eq. 7) | full
    safp: str = "key"  # Table 9: SAFP on the key (offline, paper) | query (online) | both | none

    def __post_init__(self) -> None:
        choices = {"anchor": ANCHORS, "aux_forward": ("eval", "train"), "mask_encoder": ("key", "query"),
                   "smoothing": SMOOTHING, "activation": ACTIVATIONS, "grad_activation": GRAD_ACTIVATIONS,
                   "adain": ADAIN_VARIANTS, "transforms": TRANSFORMS, "extreme_region": REGIONS,
                   "mix_region": REGIONS, "safp": SAFP_SIDES}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"method option {key}={getattr(self, key)!r}: "
                                 f"choose one of {', '.join(allowed)}")
        if not self.branches or set(self.branches) - set(BRANCHES):
            raise ValueError(f"method option branches={list(self.branches)}: "
                             f"a non-empty subset of {list(BRANCHES)}")
        if not self.active_branches:
            raise ValueError(f"method option branches={list(self.branches)} with transforms={self.transforms!r}: "
                             "branch 3 is Skeleton Mix alone, which only transforms 'full' keeps")

    @property
    def non_actionlet(self) -> bool:
        """Whether the non-actionlet transformations T_non (extreme view, Skeleton Mix) are on."""
        return self.transforms == "full"

    @property
    def active_branches(self) -> tuple[int, ...]:
        """``branches`` without branch 3 (Skeleton Mix alone) when T_non is off."""
        return tuple(b for b in self.branches if self.non_actionlet or b != 3)


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

    def _view(self, name: str, x: Tensor, g: torch.Generator, epoch: int) -> Tensor:
        """View ``name`` in the trained stream; with ``transforms: none`` (w/o T) the raw sequence."""
        if self.options.transforms == "none":
            return to_stream(x, self.stream)
        return self.view(name, x, g, epoch)

    def _embedding(self, encoder: Encoder, fmap: Tensor, mask: Tensor | None) -> Tensor:
        """Unit embedding ``(N, D)`` of a feature map: SAFP (Eq. 8, blended with GAP by
        ``safp_blend``) where ``mask`` is given, else the projected GAP."""
        assert encoder.projector is not None, "ActCLR needs an encoder with a projector"
        if mask is None:
            return F.normalize(encoder.projector(encoder.pool(fmap)), dim=1)
        return safp_embedding(encoder.projector, encoder.pool(fmap), fmap, mask, self.options.safp_blend)

    def _query(self, x: Tensor, anchor_q: Tensor | None) -> Tensor:
        """Online embedding ``(N, D)`` with grad: GAP, or with ``safp: query|both`` SAFP over the
        actionlet of the query's own feature map (online encoder, anchor ``anchor_q``)."""
        if anchor_q is None:
            return self.query(x)
        fmap = self.encoder_q.feature_map(x)
        with torch.no_grad():
            mask = self._actionlet(fmap, self.encoder_q, anchor_q)
        return self._embedding(self.encoder_q, fmap, mask)

    def training_step(self, x: Tensor, epoch: int, g: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Steps 1-7 of the module docstring on joint positions ``x (N, 3, T, V, M)``."""
        o = self.options
        branches = set(o.active_branches)
        b1_blend = 1 in branches and o.non_actionlet and o.extreme_region == "non_actionlet"
        b2_blend = 2 in branches and o.non_actionlet and o.mix_region == "non_actionlet"
        momentum_update(self.encoder_q, self.encoder_k, self.momentum)
        x_k = self._view(o.view_weak, x, g, epoch)
        x_p = self._view(o.view_weak, x, g, epoch) if {2, 3} & branches else None
        x_q = self._view(o.view_normal, x, g, epoch) if 1 in branches and (b1_blend or not o.non_actionlet) else None
        x_e = self._view(o.view_extreme, x, g, epoch) if 1 in branches and o.non_actionlet else None

        with torch.no_grad():
            with self._aux_mode(self.encoder_k):
                anchor_z = self.encoder_k.embed(self.anchor(x_k))[0]
            anchor_q = None
            if o.safp in ("query", "both"):
                with self._aux_mode(self.encoder_q):
                    anchor_q = self.encoder_q.embed(self.anchor(x_k))[0]
            fmap_k = shuffled_forward(self.encoder_k.feature_map, x_k, g, self.bn_splits)
            mask_k = self._actionlet(fmap_k, self.encoder_k, anchor_z)
            k = self._embedding(self.encoder_k, fmap_k, mask_k if o.safp in ("key", "both") else None)
            bank, _ = self.comparison_bank(k)  # with the batch part, the own key is the top entry
            teacher = k @ bank.T
        # both MATS masks before any branch, as the official step: with masks from the query
        # encoder in train mode (OFFICIAL) the order decides its BatchNorm running statistics
        masks = {"key": mask_k}
        if b1_blend:
            assert x_q is not None  # drawn above for branch 1
            masks["q"] = self._mats_mask(x_q, anchor_z)
        if x_p is not None and (b2_blend or 3 in branches):
            masks["p"] = self._mats_mask(x_p, anchor_z)

        def mining(x_in: Tensor, teacher_logits: Tensor) -> Tensor:
            return similarity_mining_loss(self._query(x_in, anchor_q), teacher_logits, bank, tau_q=o.tau_q,
                                          tau_k=o.tau_k, topk=o.topk, square_student=o.square_student,
                                          exclude_above=o.exclude_above)

        losses: dict[str, Tensor] = {}
        if 1 in branches:
            if not o.non_actionlet:  # w/o T_non: the normal (actionlet) transforms only
                assert x_q is not None
                x1 = x_q
            elif b1_blend:
                assert x_q is not None and x_e is not None  # drawn above for branch 1
                x1 = actionlet_combine(x_q, x_e, masks["q"])
            else:  # extreme_region: full, the extreme transforms on the whole skeleton
                assert x_e is not None
                x1 = x_e
            losses["loss_b1"] = mining(x1, teacher)
        if 2 in branches:
            assert x_p is not None  # drawn above for branches 2 and 3
            styled = x_p
            if o.transforms in ("full", "no_non_actionlet"):
                with full_precision(x_p.device):
                    styled = skeleton_adain(x_p, g, variant=o.adain)
            x2 = styled
            if o.non_actionlet:
                mixed = self._mix(styled, g, epoch, late=True).x
                x2 = actionlet_combine(styled, mixed, masks["p"]) if b2_blend else mixed
            losses["loss_b2"] = mining(x2, teacher)
        if 3 in branches:
            assert x_p is not None  # drawn above for branches 2 and 3
            mix = self._mix(x_p, g, epoch, late=False)
            with torch.no_grad():
                saliency = upsample_mask(masks["p"], x_p.shape[2])
                teacher_mix = saliency_mix_target(k, mix, saliency, o.saliency_tau) @ bank.T
            losses["loss_b3"] = mining(mix.x, teacher_mix)

        loss = torch.stack(list(losses.values())).sum()
        self.queue.enqueue(k)
        logs = {"loss": loss, **losses,
                **{f"actionlet_{name}": m.mean() for name, m in masks.items()},
                "actionlet_key_max": mask_k.amax(dim=(1, 2, 3)).mean(),
                "key_queue_top1": teacher.amax(dim=1).mean(), "key_cosine": mean_pairwise_cosine(k)}
        return loss, step_logs(logs)
