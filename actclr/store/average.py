"""Streaming average motion (ActCLR paper Eq. 2): the mean ``ready`` tensor ``(3, T, 25, 2)`` of a training split."""
from __future__ import annotations

import numpy as np


class MeanAccumulator:
    """Running float64 sum of ``(C, T, V, M)`` tensors.

    Samples are added one at a time in the order given, so the result does not depend on how the
    stream was cut into batches (prepare, resume and verify all get bit-identical means).
    """

    def __init__(self, shape: tuple):
        self.total = np.zeros(shape, dtype=np.float64)
        self.count = 0

    def add(self, batch: np.ndarray) -> None:
        """Add every sample of ``batch`` ``(n, *shape)``."""
        for sample in batch:
            self.total += sample
        self.count += len(batch)

    def mean(self) -> np.ndarray:
        """The mean as float32 (zeros when nothing was added)."""
        if self.count == 0:
            return np.zeros_like(self.total, dtype=np.float32)
        return (self.total / self.count).astype(np.float32)


def averages_of(ready, masks: dict, block: int = 256) -> dict:
    """``{name: mean of ready[mask]}`` for boolean row masks ``(N,)``, in one pass over ``ready``.

    ``ready`` is an array or h5py dataset ``(N, 3, 50, 25, 2)``, read ``block`` rows at a time.
    """
    accs = {name: MeanAccumulator(tuple(ready.shape[1:])) for name in masks}
    for lo in range(0, len(ready), block):
        rows = ready[lo:lo + block]
        for name, mask in masks.items():
            accs[name].add(rows[np.asarray(mask[lo:lo + block], dtype=bool)])
    return {name: acc.mean() for name, acc in accs.items()}
