"""The result of a classification protocol and its single test evaluation.

Linear evaluation, fine-tuning and kNN all end the same way: test-split scores computed with the
final (selected) model, then the test labels read once through
:func:`actclr.eval.holdout.labels_of` and turned into metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from actclr.eval import holdout
from actclr.eval.metrics import classification_metrics


@dataclass
class Evaluated:
    """What a protocol measured: ``results`` for ``metrics.json`` and the test outputs."""

    results: dict
    logits: np.ndarray  # (N_test, C) scores of the final model
    keys: list  # N_test sample keys, in the order of ``logits``
    labels: np.ndarray  # (N_test,) test labels (read after the model was final)
    notes: list = field(default_factory=list)


def score_test(logits: np.ndarray, keys: list, manifest: pa.Table, rows: np.ndarray,
               num_classes: int) -> tuple[dict, np.ndarray]:
    """``(metrics, labels)`` of final test ``logits (N, C)``: the only read of the test labels."""
    expected = holdout.keys_of(manifest, rows)
    if list(keys) != expected:
        raise RuntimeError("test features are not in manifest row order (loader reordered samples?)")
    labels = holdout.labels_of(manifest, rows)
    return classification_metrics(logits, labels, num_classes), labels


def record_selection(results: dict, fit, val_size: int, selected: str) -> list:
    """Add the training curve and the selected epoch to ``results``; return the summary notes.

    ``fit`` is the :class:`actclr.eval.fit.FitResult`; ``selected`` names what was kept ("head",
    "weights").
    """
    results.update(selected_epoch=fit.selected_epoch, selected_val_top1=fit.selected_val_top1, curve=fit.curve)
    selection = (f"epoch {fit.selected_epoch} selected on {val_size} held-out training samples"
                 if val_size else "no validation part: last epoch kept")
    return [f"test top-1 {results['top1']:.2f}, top-5 {results['top5']:.2f}, mean class accuracy "
            f"{results['mean_class_accuracy']:.2f} ({results['num_samples']} samples)",
            selection, f"test split evaluated once, with the selected {selected}"]
