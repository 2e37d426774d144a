"""kNN monitor: top-1 accuracy of a weighted kNN on a held-out part of the TRAINING split.

The benchmark's training split is divided by sample key (class-stratified, seeded:
:func:`actclr.eval.holdout.eval_splits`, the same validation part the linear evaluation holds
out) into a bank (labels used) and held-out queries; the test split is never evaluated.
Features come from the un-augmented ``ready`` tensors (converted to the trained stream) with the
query encoder in eval mode (:func:`actclr.eval.features.extract_features`): L2-normalised 128-d
projector outputs by default (``feature: embed``, as the official monitor), or the 256-d
backbone feature (``feature: backbone``).

Deviations from the official monitor (see ``docs/training.md``): the official code queries the
*test* split with *augmented* data; here queries are held-out training samples and nothing is
augmented. The held-out samples are still seen, without labels, by pretraining (shards are
streamed whole), so the number is a training monitor, not a benchmark result.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch

from actclr.eval.features import calibrate_batchnorm, extract_features, h5_batches
from actclr.eval.holdout import eval_splits, labels_of
from actclr.eval.knn import knn_predict
from actclr.models.encoder import Encoder
from actclr.store import PreparedDataset


class KNNMonitor:
    """Evaluate ``knn_top1@k`` for every ``k`` of a ``monitor`` config section."""

    def __init__(self, dataset, benchmark: str, stream: str, cfg: Mapping, seed: int,
                 device: torch.device, workers: int = 0) -> None:
        splits = eval_splits(dataset.manifest, benchmark, cfg["holdout"], seed)
        if splits.val.size == 0:
            raise ValueError(f"monitor.holdout={cfg['holdout']} holds out no {benchmark} training sample")
        self.bank_rows, self.query_rows = splits.train, splits.val
        self.bank_labels = torch.from_numpy(labels_of(dataset.manifest, splits.train)).to(device)
        self.query_labels = torch.from_numpy(labels_of(dataset.manifest, splits.val)).to(device)
        self.h5_path = dataset.h5_path
        self.num_classes = int(dataset.info["num_classes"])
        self.ks, self.t = list(cfg["k"]), float(cfg["temperature"])
        self.options = {"stream": stream, "device": device, "feature": cfg["feature"],
                        "batch_size": int(cfg["batch_size"]), "workers": workers}
        self.precise_bn = bool(cfg.get("precise_bn", False))

    def calibrated(self, encoder: Encoder) -> Encoder:
        """A copy of ``encoder`` whose BatchNorm statistics are re-estimated on the un-augmented
        training split (bank and queries; ``actclr.eval.features.calibrate_batchnorm``)."""
        o = self.options
        out = copy.deepcopy(encoder)
        rows = np.sort(np.concatenate([self.bank_rows, self.query_rows]))
        calibrate_batchnorm(out, h5_batches(self.h5_path, rows, o["device"], o["batch_size"], o["workers"]),
                            o["stream"], o["device"])
        return out

    def exported(self, encoder: Encoder) -> Encoder:
        """The encoder ``RUN/encoder.pt`` holds: ``encoder`` itself, with ``precise_bn`` :meth:`calibrated`."""
        return self.calibrated(encoder) if self.precise_bn else encoder

    @classmethod
    def from_config(cls, dataset: PreparedDataset, cfg: Mapping, device: torch.device) -> KNNMonitor:
        """The monitor of an effective pretraining config (its ``data``, ``monitor`` and ``train.seed``):
        an :data:`actclr.engine.trainer.MonitorFactory`."""
        return cls(dataset, cfg["data"]["benchmark"], cfg["data"]["stream"], cfg["monitor"],
                   int(cfg["train"]["seed"]), device, workers=min(cfg["data"]["workers"], 2))

    def evaluate(self, encoder: Encoder) -> dict:
        """``{"knn_top1@10": accuracy in %, ...}`` for the current encoder weights (with
        ``precise_bn``, of :meth:`calibrated`)."""
        device = self.options["device"]
        if self.precise_bn:
            encoder = self.calibrated(encoder)
        bank, _ = extract_features(encoder, self.h5_path, self.bank_rows, **self.options)
        queries, _ = extract_features(encoder, self.h5_path, self.query_rows, **self.options)
        out = {}
        for k in self.ks:
            scores = knn_predict(bank.to(device), self.bank_labels, queries.to(device), k, self.t,
                                 self.num_classes)
            out[f"knn_top1@{k}"] = 100.0 * (scores.argmax(1) == self.query_labels).float().mean().item()
        return out
