"""Learning-rate schedules evaluated per optimisation step.

``step`` (default, official code): ``lr = base * gamma ** (number of milestones passed)``, where a
milestone ``m`` is passed once epoch ``m`` (1-based) is complete; the official recipe multiplies
by 0.1 after epoch 250 of 350. ``cosine``: half-cosine from ``base`` to ``min_lr`` over the phase.
Either schedule may start with a linear warm-up over ``warmup_epochs`` (counted in steps).

A schedule is a pure function of the step, so resuming only needs the global step.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LRSchedule:
    """``schedule(step) -> lr`` for 0-based steps of one training phase."""

    base_lr: float
    steps_per_epoch: int
    epochs: int
    name: str = "step"
    milestones: tuple = (250,)
    gamma: float = 0.1
    warmup_epochs: int = 0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ("step", "cosine"):
            raise ValueError(f"unknown lr schedule {self.name!r} (step or cosine)")
        if self.steps_per_epoch <= 0 or self.epochs <= 0:
            raise ValueError(f"schedule needs positive steps_per_epoch and epochs, got "
                             f"{self.steps_per_epoch} and {self.epochs}")

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def __call__(self, step: int) -> float:
        warmup = self.warmup_epochs * self.steps_per_epoch
        if step < warmup:
            return self.base_lr * (step + 1) / warmup
        if self.name == "step":
            done = step // self.steps_per_epoch  # completed epochs
            return self.base_lr * self.gamma ** sum(done >= m for m in self.milestones)
        span = max(self.total_steps - warmup, 1)
        progress = min((step - warmup) / span, 1.0)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def build_schedule(cfg: Mapping, base_lr: float, epochs: int, steps_per_epoch: int) -> LRSchedule:
    """A schedule from a ``schedule`` config section."""
    return LRSchedule(base_lr=float(base_lr), steps_per_epoch=steps_per_epoch, epochs=epochs,
                      name=cfg["name"], milestones=tuple(cfg["milestones"]), gamma=float(cfg["gamma"]),
                      warmup_epochs=int(cfg["warmup_epochs"]), min_lr=float(cfg["min_lr"]))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
