"""Backbone + pooling + projector: the unit that MoCo copies into a query and a key encoder."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from actclr.models.heads import Projector
from actclr.models.stgcn import STGCN, official_key


class Encoder(nn.Module):
    """``feature_map (N, M, C, T', V)``, pooled ``(N, feature_dim)`` and projected ``(N, embed_dim)``.

    Without a projector (linear evaluation, fine-tuning) ``embed`` is the pooled feature and
    ``embed_dim == feature_dim``.
    """

    def __init__(self, backbone: STGCN, projector: Projector | None = None):
        super().__init__()
        self.backbone = backbone
        self.projector = projector
        self.feature_dim = backbone.out_channels
        self.embed_dim = projector.out_dim if projector is not None else backbone.out_channels

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, M, feature_dim, T', V)``."""
        return self.backbone(x)

    @staticmethod
    def pool(fmap: torch.Tensor) -> torch.Tensor:
        """Global average over ``(T', V)`` then mean over bodies: ``(N, M, C, T', V) -> (N, C)``.

        A sum then a division of the small result: the gradient of a sum is a broadcast view,
        while ``mean``'s would be a full-size tensor in the default layout.
        """
        return fmap.sum(dim=(3, 4)).mean(dim=1) / (fmap.shape[3] * fmap.shape[4])

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, feature_dim) -> (N, embed_dim)`` through the projector (identity if none)."""
        return features if self.projector is None else self.projector(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone feature used for evaluation, ``(N, C, T, V, M) -> (N, feature_dim)``."""
        return self.pool(self.feature_map(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised embedding ``(N, C, T, V, M) -> (N, embed_dim)``."""
        return self.project(self(x))


def from_official(state_dict: Mapping[str, torch.Tensor], prefix: str = "encoder_q.") -> dict:
    """An official ActCLR/AimCLR checkpoint's encoder (keys under ``prefix``) in :class:`Encoder`'s
    state-dict layout. ``fc.*`` becomes ``projector.*``; the 1x1-conv heads of the HEAD code
    (``(out, in, 1, 1)``) are flattened to ``Linear`` weights; the constant graph ``A`` is dropped."""
    out = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix) or key == prefix + "A":
            continue
        name = key[len(prefix):]
        if name.startswith("fc."):
            out["projector." + name[3:]] = value.flatten(1) if value.dim() == 4 else value
        else:
            out["backbone." + official_key(name)] = value
    return out
