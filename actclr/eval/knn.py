"""Weighted k-nearest-neighbour classification on feature banks (cosine similarity).

Each query's ``k`` most similar bank features vote for their labels with weight
``exp(similarity / t)`` (InstDisc / MoCo kNN monitor; the ActCLR code uses t = 0.1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from actclr.eval import holdout
from actclr.eval.features import Progress, Region, extract_features
from actclr.eval.metrics import topk_accuracy
from actclr.eval.protocol import Evaluated, score_test


def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                k: int, t: float, num_classes: int, chunk_size: int = 1024) -> torch.Tensor:
    """Class scores ``(M, num_classes)`` of the queries; ``argmax`` is the prediction.

    ``train_feats (N, D)``, ``train_labels (N,)`` int in ``[0, num_classes)``,
    ``test_feats (M, D)``. Features are L2-normalised here, so similarity is cosine.
    ``k`` is capped at ``N``. Queries are processed ``chunk_size`` at a time to bound memory.
    """
    if train_feats.ndim != 2 or test_feats.ndim != 2 or train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) features, got {tuple(train_feats.shape)} "
                         f"and {tuple(test_feats.shape)}")
    if train_labels.shape != (train_feats.shape[0],):
        raise ValueError(f"train_labels must be ({train_feats.shape[0]},), got {tuple(train_labels.shape)}")
    if train_feats.shape[0] == 0:
        raise ValueError("the kNN bank is empty")
    k = min(k, train_feats.shape[0])
    bank = F.normalize(train_feats.float(), dim=1)
    labels = train_labels.long().to(bank.device)
    scores = []
    for start in range(0, test_feats.shape[0], chunk_size):
        query = F.normalize(test_feats[start:start + chunk_size].float().to(bank.device), dim=1)
        sim, idx = (query @ bank.T).topk(k, dim=1)  # (m, k)
        weights = (sim / t).exp()
        votes = torch.zeros(query.shape[0], num_classes, device=bank.device)
        votes.scatter_add_(1, labels[idx], weights)
        scores.append(votes)
    if not scores:
        return torch.zeros(0, num_classes, device=bank.device)
    return torch.cat(scores)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, k: int, t: float, num_classes: int) -> float:
    """Top-1 accuracy (in %) of :func:`knn_predict` on labelled queries."""
    scores = knn_predict(train_feats, train_labels, test_feats, k, t, num_classes)
    correct = (scores.argmax(dim=1).cpu() == test_labels.long().cpu()).float()
    return 100.0 * correct.mean().item()


KNN_KS = (10, 20, 40)
KNN_TEMPERATURE = 0.1
PRIMARY_K = 20


def knn_evaluation(encoder, dataset, benchmark: str, *, stream: str, device: torch.device,
                   ks: tuple = KNN_KS, t: float = KNN_TEMPERATURE, primary_k: int = PRIMARY_K,
                   feature: str = "backbone", batch_size: int = 256, workers: int = 0,
                   progress: Progress | None = None, region: str = "whole") -> Evaluated:
    """Weighted kNN of the test split (queries) against the whole training split (bank).

    Features of un-augmented sequences with the frozen encoder in eval mode: the 256-d backbone
    feature by default, the projector output with ``feature="embed"`` (official monitor). Nothing
    is selected, so no validation part is needed; every ``k`` is reported, ``top1``/``top5`` and
    the saved scores are those of ``primary_k``. ``progress`` sees the feature extraction.
    ``region`` pools the feature map over ``whole``, ``actionlet`` or ``non_actionlet`` (Fig. 3).
    """
    if primary_k not in ks:
        raise ValueError(f"primary k {primary_k} is not among k = {list(ks)}")
    manifest, num_classes = dataset.manifest, int(dataset.info["num_classes"])
    bank_rows, test_rows = (holdout.require_split(dataset, benchmark, s) for s in ("train", "test"))
    pooled_over = Region.of(region, dataset, benchmark, stream, device)

    def features(rows, part: str):
        return extract_features(encoder, dataset.h5_path, rows, stream=stream, device=device, feature=feature,
                                batch_size=batch_size, workers=workers, progress=progress,
                                phase=f"features: {part}", region=pooled_over)

    bank, _ = features(bank_rows, "train")
    bank_labels = torch.from_numpy(holdout.labels_of(manifest, bank_rows))
    queries, keys = features(test_rows, "test")
    scores = {k: knn_predict(bank.to(device), bank_labels.to(device), queries.to(device), k, t, num_classes)
              .cpu().numpy() for k in ks}
    results, labels = score_test(scores[primary_k], keys, manifest, test_rows, num_classes)
    results["by_k"] = {str(k): topk_accuracy(scores[k], labels) for k in ks}
    results.update(primary_k=primary_k, bank_size=int(bank_rows.size), feature_dim=int(bank.shape[1]))
    per_k = ", ".join(f"k={k}: {results['by_k'][str(k)]['top1']:.2f}" for k in ks)
    return Evaluated(results, scores[primary_k], keys, labels,
                     notes=[f"bank: {bank_rows.size} training samples; queries: {test_rows.size} test samples",
                            f"top-1 {per_k}"])
