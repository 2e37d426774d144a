"""Validation hold-out and label subsets: stratified, seeded, independent of order."""
from __future__ import annotations

import numpy as np
import pytest

from actclr.eval.holdout import holdout_mask, label_fraction_mask


def _data(per_class=(10, 20, 1, 2)):
    keys = [f"S001C001P001R001A{c:03d}_{i}" for c, n in enumerate(per_class) for i in range(n)]
    labels = np.array([c for c, n in enumerate(per_class) for _ in range(n)])
    return keys, labels


def test_holdout_is_stratified_and_keeps_a_training_sample_per_class():
    keys, labels = _data()
    held = holdout_mask(keys, labels, 0.1, seed=0)
    assert [int(held[labels == c].sum()) for c in range(4)] == [1, 2, 0, 1]
    assert holdout_mask(keys, labels, 0.0, seed=0).sum() == 0


def test_holdout_depends_on_keys_and_seed_not_order():
    keys, labels = _data()
    held = holdout_mask(keys, labels, 0.3, seed=1)
    perm = np.random.default_rng(0).permutation(len(keys))
    shuffled = holdout_mask([keys[i] for i in perm], labels[perm], 0.3, seed=1)
    assert {keys[i] for i in perm[shuffled]} == {k for k, h in zip(keys, held) if h}
    assert not np.array_equal(held, holdout_mask(keys, labels, 0.3, seed=2))


def test_label_fraction_is_class_balanced_with_at_least_one_per_class():
    keys, labels = _data((100, 50, 3))
    kept = label_fraction_mask(keys, labels, 0.1, seed=0)
    assert [int(kept[labels == c].sum()) for c in range(3)] == [10, 5, 1]
    assert label_fraction_mask(keys, labels, 1.0, seed=0).all()
    with pytest.raises(ValueError, match="label fraction"):
        label_fraction_mask(keys, labels, 0.0, seed=0)
