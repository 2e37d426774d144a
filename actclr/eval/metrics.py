"""Classification and segmentation metrics (pure numpy; percentages in ``[0, 100]``).

Everything except top-k is a function of a confusion matrix ``cm (C, C)`` whose row is the true
class and whose column is the predicted class. Classes that never occur in the ground truth are
left out of the per-class means (their per-class value is ``nan``), so a metric does not depend
on which absent classes happen to be listed.

Segmentation metrics are the four of the paper's Table 6, which are the FCN definitions (Long et
al. 2015, "pixel accuracy, mean accuracy, mean IU, frequency weighted IU") applied to frames:
ACC = frame accuracy, MACC = mean per-class accuracy (recall), IoU_c = TP / (TP + FP + FN),
mIoU = mean IoU over the classes that occur in the ground truth or the predictions (a class that
is only predicted scores 0), FWIoU = sum_c freq_c * IoU_c with ``freq_c`` the share of
ground-truth frames of class ``c``.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts: ``cm[i, j]`` = samples of true class ``i`` predicted as ``j``."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in length")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{values.min()}, {values.max()}]")
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, ks: tuple = (1, 5)) -> dict:
    """``{"top1": %, "top5": %}`` of class scores ``logits (N, C)`` against ``labels (N,)``.

    ``k`` larger than ``C`` counts every sample as correct. Ties are broken by class index.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"expected logits (N, C) and labels (N,), got {logits.shape} and {labels.shape}")
    if logits.shape[0] == 0:
        raise ValueError("no samples to score")
    order = np.argsort(-logits, axis=1, kind="stable")
    hits = order == labels[:, None]
    return {f"top{k}": 100.0 * float(hits[:, :k].any(axis=1).mean()) for k in ks}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ``100 * numerator / denominator``, ``nan`` where the denominator is 0."""
    numerator = numerator.astype(np.float64)
    out = np.full(numerator.shape, np.nan)
    np.divide(100.0 * numerator, denominator, out=out, where=denominator > 0)
    return out


def _check(cm: np.ndarray) -> np.ndarray:
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square (C, C), got {cm.shape}")
    if cm.sum() == 0:
        raise ValueError("the confusion matrix is empty (no samples)")
    return cm


def accuracy(cm: np.ndarray) -> float:
    """Share of correct samples (ACC): ``trace / total``."""
    cm = _check(cm)
    return 100.0 * float(np.trace(cm)) / float(cm.sum())


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """``(C,)`` recall of each class, ``nan`` for classes absent from the ground truth."""
    cm = _check(cm)
    return _ratio(np.diag(cm), cm.sum(axis=1))


def mean_class_accuracy(cm: np.ndarray) -> float:
    """MACC: mean of :func:`per_class_accuracy` over the classes present in the ground truth."""
    return float(np.nanmean(per_class_accuracy(cm)))


def per_class_iou(cm: np.ndarray) -> np.ndarray:
    """``(C,)`` ``TP / (TP + FP + FN)``; ``nan`` for classes absent from ground truth and predictions."""
    cm = _check(cm)
    tp = np.diag(cm)
    return _ratio(tp, cm.sum(axis=0) + cm.sum(axis=1) - tp)


def mean_iou(cm: np.ndarray) -> float:
    """mIoU: mean IoU over the classes seen in the ground truth or the predictions (FCN)."""
    return float(np.nanmean(per_class_iou(cm)))


def frequency_weighted_iou(cm: np.ndarray) -> float:
    """FWIoU: IoU of each class weighted by its share of the ground truth."""
    cm = _check(cm)
    freq = cm.sum(axis=1) / cm.sum()
    iou = per_class_iou(cm)
    return float(np.sum(freq[freq > 0] * iou[freq > 0]))


def classification_metrics(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """Top-1/top-5, per-class accuracy (``None`` for absent classes) and the confusion matrix."""
    scores = topk_accuracy(logits, labels, ks=(1, 5))
    cm = confusion_matrix(labels, np.asarray(logits).argmax(axis=1), num_classes)
    return {**scores, "mean_class_accuracy": mean_class_accuracy(cm),
            "per_class_accuracy": nan_to_none(per_class_accuracy(cm)),
            "confusion_matrix": cm.tolist(), "num_samples": int(cm.sum())}


def segmentation_metrics(cm: np.ndarray) -> dict:
    """ACC, MACC, FWIoU and mIoU (paper Table 6) plus per-class IoU and the matrix."""
    return {"acc": accuracy(cm), "macc": mean_class_accuracy(cm), "fwiou": frequency_weighted_iou(cm),
            "miou": mean_iou(cm), "per_class_iou": nan_to_none(per_class_iou(cm)),
            "confusion_matrix": np.asarray(cm).tolist(), "num_frames": int(np.asarray(cm).sum())}


def nan_to_none(values: np.ndarray) -> list:
    """A float array as a JSON-friendly list (``nan`` -> ``None``)."""
    return [None if np.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]
