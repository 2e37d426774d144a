"""kNN classification and the kNN monitor's held-out part of the training split."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from actclr.eval.knn import knn_accuracy, knn_predict
from actclr.eval.monitor import KNNMonitor
from actclr.store import open_dataset
from actclr.store.manifest import split_rows


def test_knn_predict_weights_the_k_nearest_by_exp_cosine():
    bank = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 2])
    query = torch.tensor([[1.0, 0.2], [0.1, 3.0]])
    scores = knn_predict(bank, labels, query, k=2, t=0.1, num_classes=3)
    sims = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(bank, dim=1).T
    expected0 = math.exp(sims[0, 0] / 0.1) + math.exp(sims[0, 1] / 0.1)  # two class-0 neighbours
    assert scores[0, 0].item() == pytest.approx(expected0, rel=1e-5) and scores[0, 1:].sum() == 0
    assert scores[1].argmax().item() == 1 and (scores[1] > 0).sum() == 2
    assert knn_predict(bank, labels, query, k=10, t=0.1, num_classes=3).count_nonzero(dim=1).tolist() == [3, 3]
    assert knn_accuracy(bank, labels, query, torch.tensor([0, 2]), k=1, t=0.1, num_classes=3) == 50.0
    with pytest.raises(ValueError, match="expected"):
        knn_predict(bank, labels, torch.ones(2, 3), k=1, t=0.1, num_classes=3)


class Flat(nn.Module):
    """A stand-in encoder: the flattened first frame as the feature."""

    def forward(self, x):
        return x[:, :, 0].flatten(1)

    def embed(self, x):
        return self(x)


def test_monitor_queries_a_held_out_part_of_the_training_split(synth_dataset):
    dataset = open_dataset(synth_dataset)
    cfg = {"holdout": 0.25, "k": [1, 5], "temperature": 0.1, "feature": "embed", "batch_size": 16}
    monitor = KNNMonitor(dataset, "xsub", "joint", cfg, seed=0, device=torch.device("cpu"))
    train = split_rows(dataset.manifest, "xsub", "train")
    bank, queries = set(monitor.bank_rows), set(monitor.query_rows)
    assert bank | queries == set(train) and not bank & queries  # never a test sample
    assert 0.15 * len(train) <= len(queries) <= 0.35 * len(train)
    result = monitor.evaluate(Flat())
    assert set(result) == {"knn_top1@1", "knn_top1@5"}
    assert all(0.0 <= v <= 100.0 for v in result.values())
    with pytest.raises(ValueError, match="no benchmark column 'xset'"):
        KNNMonitor(dataset, "xset", "joint", cfg, seed=0, device=torch.device("cpu"))


def test_precise_bn_reads_a_copy_with_statistics_of_the_training_split(synth_dataset):
    from actclr.models import build_encoder

    dataset = open_dataset(synth_dataset)
    cfg = {"holdout": 0.25, "k": [1], "temperature": 0.1, "feature": "backbone", "batch_size": 16}
    plain = KNNMonitor(dataset, "xsub", "joint", cfg, seed=0, device=torch.device("cpu"))
    precise = KNNMonitor(dataset, "xsub", "joint", {**cfg, "precise_bn": True}, seed=0, device=torch.device("cpu"))
    torch.manual_seed(0)
    encoder = build_encoder({"hidden_channels": 4, "out_channels": 8, "projector": None})
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    calibrated = precise.calibrated(encoder)
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())  # the original is untouched
    stats = calibrated.backbone.data_bn.running_mean
    assert stats.abs().max() > 1e-3 and before["backbone.data_bn.running_mean"].abs().max() == 0
    assert precise.evaluate(encoder) == plain.evaluate(calibrated)
