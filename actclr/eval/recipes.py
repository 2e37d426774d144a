"""Optimisation recipes of the supervised protocols (plain data: importable without torch).

Defaults are the official ones (spec section 6): linear evaluation SGD momentum 0.9, wd 0, lr 24,
batch 1024, 100 epochs, lr x0.1 after epoch 80 (NTU-120: 150 epochs, [80, 120]); fine-tuning
SGD Nesterov, wd 1e-4, lr 0.1, batch 128, 80 epochs, [10, 50].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class SGDRecipe:
    """SGD + step schedule. Defaults: the official linear protocol (spec section 6)."""

    epochs: int = 100
    lr: float = 24.0
    batch_size: int = 1024
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    milestones: tuple = (80,)
    gamma: float = 0.1
    eval_every: int = 1  # epochs between validation scores (the last epoch is always scored)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError(f"epochs, batch_size and eval_every must be >= 1: {self}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def with_epochs(self, epochs: int) -> SGDRecipe:
        """The recipe over ``epochs`` epochs, milestones scaled in proportion (official 80 of 100
        becomes 16 of 20)."""
        scale = epochs / self.epochs
        return replace(self, epochs=epochs, milestones=tuple(max(1, round(m * scale)) for m in self.milestones))

    def with_changes(self, *, epochs: int | None = None, lr: float | None = None, batch_size: int | None = None,
                     milestones: tuple | None = None) -> SGDRecipe:
        """The recipe over ``epochs`` (see :meth:`with_epochs`) with the given values replaced
        (``None``: unchanged); raises ``ValueError`` for values out of range."""
        recipe = self.with_epochs(epochs) if epochs is not None else self
        changes: dict[str, Any] = {k: v for k, v in {"lr": lr, "batch_size": batch_size,
                                                       "milestones": milestones}.items() if v is not None}
        return replace(recipe, **changes)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


LINEAR_RECIPE = SGDRecipe()
FINETUNE_RECIPE = SGDRecipe(epochs=80, lr=0.1, batch_size=128, weight_decay=1e-4, nesterov=True, milestones=(10, 50))
