"""Linear evaluation: a linear classifier on the frozen encoder's features.

Official protocol (spec section 6, AimCLR ``linear_evaluation.py``): the whole encoder runs in eval
mode (BatchNorm frozen, dropout off), the projector is dropped, a new linear layer 256 -> C
(initialised N(0, 0.02), bias 0) is trained with SGD momentum 0.9, weight decay 0, lr 24,
batch 1024, 100 epochs, lr x0.1 after epoch 80, without augmentation.

Since the encoder is frozen, deterministic in eval mode and sees un-augmented inputs, its features
do not change between epochs: computing them once and training the head on the cached features
is exactly the official procedure (same gradients, same updates), only much faster.

Differences from the official code, both about model selection: the official log reports the
best test accuracy over evaluations every 5 epochs (selection on the test set). Here the epoch
is selected on a validation part held out from the training split (``val_fraction``, class
stratified, by key; :mod:`actclr.eval.holdout`) and the test split is evaluated once, with the
selected head. ``val_fraction=0`` trains on the whole training split and keeps the last epoch.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from actclr.eval import holdout
from actclr.eval.features import Progress, Region, extract_features
from actclr.eval.fit import fit_classifier, predict, tensor_batches
from actclr.eval.protocol import Evaluated, record_selection, score_test
from actclr.eval.recipes import LINEAR_RECIPE, SGDRecipe
from actclr.models import Encoder, LinearClassifier

HEAD_INIT_STD = 0.02


def linear_head(in_features: int, num_classes: int, init_std: float = HEAD_INIT_STD) -> LinearClassifier:
    """A :class:`LinearClassifier` with weights N(0, ``init_std``) and zero bias: the official linear
    evaluation initialises its head N(0, 0.02) (spec section 6)."""
    head = LinearClassifier(in_features, num_classes)
    nn.init.normal_(head.weight, std=init_std)
    return head


def chunks(x: torch.Tensor, size: int = 4096):
    """``x`` in consecutive slices of ``size`` rows."""
    return (x[i:i + size] for i in range(0, x.shape[0], size))


def train_probe(train_x: torch.Tensor, train_y: torch.Tensor, num_classes: int, recipe: SGDRecipe, *,
                seed: int = 0, val_x: torch.Tensor | None = None, val_y: np.ndarray | None = None,
                on_epoch: Callable[[dict], None] | None = None):
    """Train a linear head on cached features ``(N, D)`` (any device); returns ``(head, FitResult)``
    with the head holding the selected epoch's weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = linear_head(train_x.shape[1], num_classes).to(train_x.device)
    steps = -(-train_x.shape[0] // recipe.batch_size)
    val_logits = None if val_x is None or val_x.shape[0] == 0 else (lambda model: predict(model, chunks(val_x)))
    fit = fit_classifier(head, list(head.parameters()), tensor_batches(train_x, train_y, recipe.batch_size, seed),
                         steps, recipe, val_logits=val_logits, val_labels=val_y, on_epoch=on_epoch)
    return head, fit


def linear_evaluation(encoder: Encoder, dataset, benchmark: str, *, stream: str, device: torch.device,
                      recipe: SGDRecipe = LINEAR_RECIPE, feature: str = "backbone", val_fraction: float = 0.1,
                      seed: int = 0, feature_batch_size: int = 256, workers: int = 0,
                      on_epoch: Callable[[dict], None] | None = None,
                      progress: Progress | None = None, region: str = "whole") -> Evaluated:
    """Linear evaluation of ``encoder`` on ``benchmark`` of a prepared ``dataset`` (module docstring).
    ``progress`` sees the feature extraction of each part (``features: train`` ...). ``region``
    pools the feature map over ``whole``, ``actionlet`` or ``non_actionlet`` (paper Fig. 3)."""
    manifest, num_classes = dataset.manifest, int(dataset.info["num_classes"])
    splits = holdout.eval_splits(manifest, benchmark, val_fraction, seed)
    pooled_over = Region.of(region, dataset, benchmark, stream, device)

    def features(rows, part: str):
        return extract_features(encoder, dataset.h5_path, rows, stream=stream, device=device, feature=feature,
                                batch_size=feature_batch_size, workers=workers, progress=progress,
                                phase=f"features: {part}", region=pooled_over)

    train_x, _ = features(splits.train, "train")
    train_y = torch.from_numpy(holdout.labels_of(manifest, splits.train))
    val_x = val_y = None
    if splits.val.size:
        val_x, _ = features(splits.val, "val")
        val_x, val_y = val_x.to(device), holdout.labels_of(manifest, splits.val)
    test_x, test_keys = features(splits.test, "test")
    head, fit = train_probe(train_x.to(device), train_y.to(device), num_classes, recipe, seed=seed,
                            val_x=val_x, val_y=val_y, on_epoch=on_epoch)
    logits = predict(head, chunks(test_x.to(device))).numpy()
    results, labels = score_test(logits, test_keys, manifest, splits.test, num_classes)
    notes = record_selection(results, fit, splits.val.size, "head")
    results.update(splits=splits.sizes(), feature_dim=int(train_x.shape[1]))
    return Evaluated(results, logits, test_keys, labels, notes=notes)
