"""Classification and segmentation metrics against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from actclr.eval import metrics as M


def test_confusion_matrix_counts_true_rows_predicted_columns():
    cm = M.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    expected = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        M.confusion_matrix([4], [0], 4)


def test_topk_accuracy():
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.15, 0.05], [0.3, 0.3, 0.4]])
    labels = np.array([1, 1, 0])
    scores = M.topk_accuracy(logits, labels, ks=(1, 2, 3))
    assert scores["top1"] == pytest.approx(100 / 3)
    assert scores["top2"] == pytest.approx(100.0)  # sample 3: class 0 ties class 1, stable order puts 0 first
    assert scores["top3"] == 100.0


def test_classification_metrics_marks_absent_classes_as_none():
    logits = np.eye(3)[[0, 1, 1]]
    out = M.classification_metrics(logits, np.array([0, 1, 0]), 4)
    assert out["top1"] == pytest.approx(200 / 3)
    assert out["per_class_accuracy"] == [50.0, 100.0, None, None]
    assert out["mean_class_accuracy"] == pytest.approx(75.0)
    assert out["confusion_matrix"][0] == [1, 1, 0, 0]


def test_segmentation_metrics_hand_computed():
    # 10 frames: ground truth  0 0 0 0 1 1 1 2 2 2 ; predictions 0 0 0 1 1 1 2 2 2 0
    gt = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    cm = M.confusion_matrix(gt, pred, 3)
    out = M.segmentation_metrics(cm)
    assert out["acc"] == pytest.approx(70.0)
    # recalls 3/4, 2/3, 2/3
    assert out["macc"] == pytest.approx(100 * (3 / 4 + 2 / 3 + 2 / 3) / 3)
    # IoU: class 0: TP 3, FP 1, FN 1 -> 3/5; class 1: TP 2, FP 1, FN 1 -> 2/4; class 2: TP 2, FP 1, FN 1 -> 2/4
    iou = np.array([3 / 5, 2 / 4, 2 / 4])
    np.testing.assert_allclose(out["per_class_iou"], 100 * iou)
    assert out["miou"] == pytest.approx(100 * iou.mean())
    assert out["fwiou"] == pytest.approx(100 * np.dot([0.4, 0.3, 0.3], iou))
    assert out["num_frames"] == 10


def test_segmentation_class_only_predicted_counts_zero_in_miou_but_not_macc():
    cm = M.confusion_matrix([0, 0, 0, 0], [0, 0, 0, 1], 3)  # class 1 never true, once predicted; class 2 absent
    assert M.mean_class_accuracy(cm) == pytest.approx(75.0)
    assert M.per_class_iou(cm)[2] != M.per_class_iou(cm)[2]  # nan: absent everywhere
    assert M.mean_iou(cm) == pytest.approx((75.0 + 0.0) / 2)
    assert M.frequency_weighted_iou(cm) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="empty"):
        M.accuracy(np.zeros((2, 2)))
