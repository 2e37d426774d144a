"""Fine-tuning and semi-supervised evaluation: the whole network is trained with labels.

Official protocol (spec section 6, AimCLR ``finetune_evaluation.py``): encoder + new linear head
(projector dropped), everything trainable and in train mode, SGD with Nesterov momentum 0.9,
weight decay 1e-4, lr 0.1, lr x0.1 after epochs 10 and 50, 80 epochs, batch 128, no augmentation.
Semi-supervised: the same on a class-balanced ``label_fraction`` (1 % or 10 %) of the labels
(official ``Feeder_semi``), chosen here per class by key (:func:`actclr.eval.holdout.label_fraction_mask`).

As for linear evaluation, the epoch is selected on a validation part held out from the training
split (the official log reports the best test accuracy) and the test split is evaluated once.
The labelled subset is drawn from the training part that remains after the hold-out.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from actclr.data import H5Samples, make_loader, to_device
from actclr.eval import holdout
from actclr.eval.features import Progress, encode, h5_batches
from actclr.eval.fit import fit_classifier, predict
from actclr.eval.linear import linear_head
from actclr.eval.protocol import Evaluated, record_selection, score_test
from actclr.eval.recipes import FINETUNE_RECIPE, SGDRecipe
from actclr.models.encoder import Encoder


class Classifier(nn.Module):
    """Encoder + linear head on joint positions: ``(N, 3, T, V, M) -> (N, num_classes)`` logits."""

    def __init__(self, encoder: Encoder, num_classes: int, stream: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = linear_head(encoder.feature_dim, num_classes)
        self.stream = stream

    def forward(self, x: Tensor) -> Tensor:
        return self.head(encode(self.encoder, x, self.stream))


def finetune_evaluation(encoder: Encoder, dataset, benchmark: str, *, stream: str, device: torch.device,
                        recipe: SGDRecipe = FINETUNE_RECIPE, label_fraction: float = 1.0,
                        val_fraction: float = 0.1, seed: int = 0, workers: int = 0,
                        on_epoch: Callable[[dict], None] | None = None,
                        progress: Progress | None = None) -> Evaluated:
    """Fine-tune ``encoder`` (modified in place) on ``benchmark`` of a prepared ``dataset``;
    ``progress`` sees the passes over the validation and test parts (``predict: val`` ...)."""
    manifest, num_classes = dataset.manifest, int(dataset.info["num_classes"])
    splits = holdout.eval_splits(manifest, benchmark, val_fraction, seed)
    train_rows = splits.train
    if label_fraction < 1.0:
        keep = holdout.label_fraction_mask(holdout.keys_of(manifest, train_rows),
                                           holdout.labels_of(manifest, train_rows), label_fraction, seed)
        train_rows = train_rows[keep]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(encoder, num_classes, stream).to(device)
    h5 = dataset.h5_path
    train_loader = make_loader(H5Samples(h5, train_rows), device, batch_size=recipe.batch_size, shuffle=True,
                               seed=seed, num_workers=workers)

    def batches(epoch: int):
        train_loader.set_epoch(epoch)
        for batch in train_loader:
            batch = to_device(batch, device)
            yield batch.x, batch.y

    def inputs(rows, part: str, keys: list | None = None):
        batches = h5_batches(h5, rows, device, recipe.batch_size, workers, keys, progress, f"predict: {part}")
        return (to_device(x, device) for x in batches)

    val_logits = (lambda m: predict(m, inputs(splits.val, "val"))) if splits.val.size else None
    val_y = holdout.labels_of(manifest, splits.val) if splits.val.size else None
    fit = fit_classifier(model, list(model.parameters()), batches, len(train_loader), recipe,
                         val_logits=val_logits, val_labels=val_y, on_epoch=on_epoch)
    test_keys: list = []
    logits = predict(model, inputs(splits.test, "test", test_keys)).numpy()
    results, labels = score_test(logits, test_keys, manifest, splits.test, num_classes)
    notes = record_selection(results, fit, splits.val.size, "weights")
    results.update(splits={**splits.sizes(), "labelled": int(train_rows.size)}, label_fraction=label_fraction)
    notes.insert(1, f"{train_rows.size} labelled training samples (label fraction {label_fraction:g})")
    return Evaluated(results, logits, test_keys, labels, notes=notes)
