"""Shared helpers of the method tests: a tiny real encoder and a fixed-teacher training loop."""
from __future__ import annotations

import copy

import torch
from torch import nn

from actclr.methods import build_method
from actclr.models import build_encoder

#: A tiny ST-GCN: T=20 gives T'=5; projector 16 -> 16 -> 8.
TINY = {"hidden_channels": 8, "out_channels": 16, "dropout": 0.0,
        "projector": {"hidden_dim": 16, "out_dim": 8}}


def tiny_encoder() -> nn.Module:
    """The tiny encoder re-initialised with PyTorch's default (Kaiming) init.

    The official N(0, 0.02) init gives ~1e-3 embedding norms, so the normalised embeddings (and
    the loss) swing wildly under any fixed learning rate; healthy norms make "a few steps lower
    the loss" a meaningful check of the gradients.
    """
    encoder = build_encoder(TINY)
    for module in encoder.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.reset_parameters()
    return encoder


def batch(n: int = 4, frames: int = 20, seed: int = 0) -> torch.Tensor:
    """Random joint positions ``(n, 3, frames, 25, 2)``."""
    return torch.randn(n, 3, frames, 25, 2, generator=torch.Generator().manual_seed(seed))


def make(name: str, seed: int = 0, **options) -> nn.Module:
    """Method ``name`` on the tiny encoder with a small queue; dataset anchor from ``batch()``."""
    torch.manual_seed(seed)
    return build_method(name, {"queue_size": 32, **options}, tiny_encoder,
                        average_motion=batch().mean(0))


def fixed_teacher_losses(method: nn.Module, x: torch.Tensor, steps: int, lr: float = 1e-3,
                         epoch: int = 1) -> list[float]:
    """SGD steps at ``epoch`` on one batch with the same augmentation draws, the queue and the key
    encoder restored after every step (a fixed teacher); returns the loss before each step."""
    frozen = {"queue": copy.deepcopy(method.queue.state_dict()),
              "encoder_k": copy.deepcopy(method.encoder_k.state_dict())}
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss, _ = method.training_step(x, epoch, torch.Generator().manual_seed(5))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.queue.load_state_dict(frozen["queue"])
        method.encoder_k.load_state_dict(frozen["encoder_k"])
        losses.append(loss.item())
    return losses


def assert_only_query_gradients(method: nn.Module) -> None:
    """After backward: every trainable query parameter has a finite gradient, the key none."""
    for name, p in method.encoder_q.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert all(p.grad is None and not p.requires_grad for p in method.encoder_k.parameters())
