"""Heads on the pooled backbone feature ``(N, 256)``."""
from __future__ import annotations

from torch import nn

from actclr.models.init import init_weights


class Projector(nn.Sequential):
    """MoCo v2 projection head ``(N, in_dim) -> (N, out_dim)``: Linear-ReLU-Linear, no BN, no final
    activation (the ``Linear`` head of the code behind the published logs; spec section 3)."""

    def __init__(self, in_dim: int = 256, hidden_dim: int = 256, out_dim: int = 128):
        super().__init__(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        init_weights(self)


class LinearClassifier(nn.Linear):
    """``(N, in_dim) -> (N, num_classes)`` logits; weights N(0, 0.02), zero bias (official linear eval)."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__(in_dim, num_classes)
        init_weights(self)
