"""Supervised training with model selection on a validation part (linear probe and fine-tuning).

:func:`fit_classifier` runs epochs of SGD (cross-entropy, step schedule evaluated per step),
scores the validation part every ``eval_every`` epochs and keeps the weights of the best
validation top-1 (earliest on ties). Without a validation part the last epoch is selected. The
test split is not touched here: callers evaluate the returned model once, afterwards.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actclr.engine.schedule import LRSchedule, set_lr
from actclr.eval.metrics import topk_accuracy
from actclr.eval.recipes import SGDRecipe
from actclr.models.modes import eval_mode


@dataclass
class FitResult:
    """What training produced: the selected epoch, the per-epoch curve, the selected weights."""

    selected_epoch: int
    selected_val_top1: float | None
    curve: list = field(default_factory=list)  # [{epoch, lr, loss, train_top1, val_top1?}]


Batches = Callable[[int], Iterable[tuple[Tensor, Tensor]]]
"""``batches(epoch)`` -> iterable of ``(inputs, labels)`` on the device for one epoch."""


def fit_classifier(model: nn.Module, params: list, batches: Batches, steps_per_epoch: int,
                   recipe: SGDRecipe, val_logits: Callable[[nn.Module], Tensor] | None = None,
                   val_labels: np.ndarray | None = None,
                   on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``model`` (train mode) on ``params`` and load the selected epoch's weights into it.

    ``val_logits(model) -> (N_val, C)`` scores the validation part (the function sets the mode
    it needs); ``None`` disables selection. ``on_epoch(row)`` sees every curve row.
    """
    optimizer = torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    schedule = LRSchedule(base_lr=recipe.lr, steps_per_epoch=steps_per_epoch, epochs=recipe.epochs,
                          milestones=tuple(recipe.milestones), gamma=recipe.gamma)
    select = val_logits is not None and val_labels is not None and len(val_labels) > 0
    best_top1, best_epoch, best_state = -math.inf, recipe.epochs, None
    result = FitResult(selected_epoch=recipe.epochs, selected_val_top1=None)
    step = 0
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for inputs, labels in batches(epoch):
            lr = schedule(step)
            set_lr(optimizer, lr)
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss in epoch {epoch} (lr {lr:g}); lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += float(loss.detach()) * labels.shape[0]
            correct += int((logits.detach().argmax(1) == labels).sum())
            seen += labels.shape[0]
        if seen == 0:
            raise ValueError("the training part gave no batch")
        row = {"epoch": epoch, "lr": lr, "loss": loss_sum / seen, "train_top1": 100.0 * correct / seen}
        if select and (epoch % recipe.eval_every == 0 or epoch == recipe.epochs):
            assert val_logits is not None and val_labels is not None  # implied by select
            with torch.no_grad():
                scores = val_logits(model).cpu().numpy()
            row["val_top1"] = topk_accuracy(scores, val_labels, ks=(1,))["top1"]
            if row["val_top1"] > best_top1:
                best_top1, best_epoch = row["val_top1"], epoch
                best_state = copy.deepcopy(model.state_dict())
        result.curve.append(row)
        if on_epoch is not None:
            on_epoch(row)
    if best_state is not None:
        model.load_state_dict(best_state)
        result.selected_epoch, result.selected_val_top1 = best_epoch, best_top1
    return result


def tensor_batches(x: Tensor, y: Tensor, batch_size: int, seed: int) -> Batches:
    """Shuffled mini-batches of in-memory ``x (N, ...)``, ``y (N,)``; the order is a function of
    ``(seed, epoch)``; the last batch may be smaller."""
    def batches(epoch: int):
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(x.shape[0], generator=g).to(x.device)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]
    return batches


@torch.no_grad()
def predict(model: nn.Module, inputs: Iterable[Tensor]) -> Tensor:
    """Eval-mode outputs of ``model`` over input batches, concatenated on the CPU."""
    with eval_mode(model):
        return torch.cat([model(x).float().cpu() for x in inputs])
