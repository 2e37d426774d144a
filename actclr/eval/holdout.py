"""Seeded, class-stratified subsets of a benchmark's TRAINING split, chosen by sample key.

Evaluation never selects anything on the test split. Model selection (linear/fine-tune epoch)
uses a validation part held out from the training split; semi-supervised fine-tuning keeps a
class-balanced fraction of the labels. Both are chosen per class by ranking the keys with
``sha256(f"{purpose}:{seed}:{key}")``, so the choice depends only on the keys, the seed and the
purpose: not on file order, on how many other samples were prepared, or on the machine.

Only the TRAINING labels are read here (stratification needs them); test labels are read by the
evaluation commands through :func:`labels_of`, once, after training.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from actclr.store.manifest import split_rows

#: At most this many field values are listed in an empty-split message.
_SHOWN_VALUES = 12


class EmptySplitError(ValueError):
    """A benchmark split an evaluation needs holds no sample (the message names it and says why)."""


def _values(values: Sequence) -> str:
    shown = ", ".join(map(str, values[:_SHOWN_VALUES]))
    return shown + (f" ... ({len(values)})" if len(values) > _SHOWN_VALUES else "")


def require_split(dataset, benchmark: str, split: str) -> np.ndarray:
    """Row numbers (sorted int64) of ``split`` of ``benchmark`` of a prepared ``dataset``.

    Raises :class:`EmptySplitError` if there are none, naming the split rule (``dataset.json``
    ``benchmarks``) and the values the dataset's samples have instead.
    """
    manifest = dataset.manifest
    rows = split_rows(manifest, benchmark, split)
    if rows.size:
        return rows
    rule = dataset.info.get("benchmarks", {}).get(benchmark, {})
    field = rule.get("field", "?")
    if rule.get("test_list"):
        wanted = f"the samples {'' if split == 'test' else 'not '}listed in {rule['test_list']}"
    else:
        wanted = f"the samples whose {field} is {_values(rule.get(split, [])) or '(none)'}"
    present = sorted(set(manifest.column(field).to_pylist())) if field in manifest.column_names else []
    have = f"; the {manifest.num_rows} samples here have {field} {_values(present)}" if present else ""
    raise EmptySplitError(f"{dataset.location}: the {benchmark} {split} split is empty: it holds {wanted}{have} "
                          "(prepared from a partial raw tree?); use another --benchmark or prepare the missing files")


def key_ranks(keys: Sequence[str], seed: int, purpose: str) -> np.ndarray:
    """``(N,)`` int64 rank of each key in the order of ``sha256(f"{purpose}:{seed}:{key}")``."""
    digests = [hashlib.sha256(f"{purpose}:{seed}:{key}".encode()).digest() for key in keys]
    order = sorted(range(len(keys)), key=digests.__getitem__)
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys))
    return ranks


def stratified_pick(keys: Sequence[str], labels: np.ndarray, counts, seed: int, purpose: str) -> np.ndarray:
    """Boolean mask ``(N,)`` picking, in every class ``c``, the ``counts(n_c)`` keys of lowest rank."""
    labels = np.asarray(labels)
    if len(keys) != labels.shape[0]:
        raise ValueError(f"{len(keys)} keys but {labels.shape[0]} labels")
    ranks = key_ranks(keys, seed, purpose)
    mask = np.zeros(len(keys), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = counts(members.size)
        mask[members[np.argsort(ranks[members])[:take]]] = True
    return mask


def holdout_mask(keys: Sequence[str], labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Validation mask: ``round(fraction * n_c)`` keys of each class, at least 1 when
    ``fraction > 0``, and never a class's last sample (a class of one stays in training)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")

    def counts(n: int) -> int:
        wanted = max(int(round(fraction * n)), 1) if fraction > 0 else 0
        return min(wanted, n - 1)

    return stratified_pick(keys, labels, counts, seed, "holdout")


def label_fraction_mask(keys: Sequence[str], labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Semi-supervised subset: ``round(fraction * n_c)`` keys of each class, at least 1
    (the class-balanced ``label_percent`` subsets of the official code)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the label fraction must be in (0, 1], got {fraction}")
    return stratified_pick(keys, labels, lambda n: min(max(int(round(fraction * n)), 1), n), seed, "labels")


def labels_of(manifest: pa.Table, rows: np.ndarray) -> np.ndarray:
    """``(len(rows),)`` int64 labels of manifest rows (the one place evaluation reads labels)."""
    return manifest.column("label").take(pa.array(np.asarray(rows, dtype=np.int64))).to_numpy().astype(np.int64)


def keys_of(manifest: pa.Table, rows: np.ndarray) -> list:
    """Sample keys of manifest rows."""
    return manifest.column("key").take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()


@dataclass(frozen=True)
class EvalSplits:
    """Manifest row numbers (sorted int64) of the three parts of a benchmark."""

    train: np.ndarray  # training split minus the validation part
    val: np.ndarray  # held out from the training split (may be empty: no model selection)
    test: np.ndarray  # the benchmark's test split

    def sizes(self) -> dict:
        return {"train": int(self.train.size), "val": int(self.val.size), "test": int(self.test.size)}


def eval_splits(manifest: pa.Table, benchmark: str, val_fraction: float, seed: int) -> EvalSplits:
    """Divide ``benchmark`` into training, validation (stratified, from the training split) and test rows."""
    if benchmark not in manifest.column_names:
        raise ValueError(f"the manifest has no benchmark column {benchmark!r} "
                         f"(columns: {', '.join(manifest.column_names)})")
    train = split_rows(manifest, benchmark, "train")
    test = split_rows(manifest, benchmark, "test")
    if train.size == 0 or test.size == 0:
        raise ValueError(f"benchmark {benchmark!r} has {train.size} training and {test.size} test samples; "
                         "both must be non-empty")
    held = holdout_mask(keys_of(manifest, train), labels_of(manifest, train), val_fraction, seed)
    return EvalSplits(train=train[~held], val=train[held], test=test)
