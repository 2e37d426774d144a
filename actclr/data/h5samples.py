"""``H5Samples``: map-style dataset over the ``ready`` tensors of ``skeletons.h5``."""
from __future__ import annotations

import os
from collections.abc import Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from actclr.skeleton import NUM_BODIES, NUM_COORDS, NUM_JOINTS
from actclr.store.hdf5 import open_h5

MIN_CACHE_BYTES = 1 << 20
"""Smallest HDF5 chunk cache per open file. ``ready`` has one sample (30 KB) per chunk and is read
in random order, so a large cache buys nothing; it must only hold a few chunks."""

CACHE_CHUNKS = 4
"""The cache holds at least this many chunks, so files chunked coarser than the format still work."""


class H5Samples(Dataset):
    """Rows of ``skeletons.h5``: item ``i`` is ``(x (3, T, 25, 2) float32, label, key)`` of row ``indices[i]``.

    The file is validated once at construction and then opened lazily, read-only, in whichever
    process reads (each DataLoader worker opens its own handle; handles are never pickled and a
    handle inherited through ``fork`` is reopened). Memory holds only the selected row numbers,
    labels and keys as three flat numpy arrays (about 16 bytes + key length per row, no per-sample
    Python objects, so forked workers do not grow by copy-on-read); tensors are read on demand.
    """

    def __init__(self, h5_path: str | os.PathLike, indices: Sequence[int] | np.ndarray | None = None,
                 rows: str = "ready") -> None:
        self.h5_path = os.fspath(h5_path)
        self.rows = rows
        with open_h5(self.h5_path) as f:
            total, chunk_bytes = self._validate(f)
            all_labels = f["labels"][...]
            all_keys = f["keys"][...]
        self._indices = np.arange(total, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        if self._indices.ndim != 1:
            raise ValueError(f"{self.h5_path}: indices must be 1-D, got shape {self._indices.shape}")
        outside = self._indices[(self._indices < 0) | (self._indices >= total)]
        if outside.size:
            raise IndexError(f"{self.h5_path}: indices {outside[:5].tolist()} are outside [0, {total})")
        self._labels = all_labels[self._indices].astype(np.int64)
        self._keys = np.asarray(all_keys[self._indices], dtype=np.bytes_)
        self.cache_bytes = max(MIN_CACHE_BYTES, CACHE_CHUNKS * chunk_bytes)
        self._handles: tuple[h5py.File, h5py.Dataset] | None = None
        self._pid: int | None = None

    def _validate(self, f: h5py.File) -> tuple[int, int]:
        """Check the datasets this class reads; return the row count and the bytes of one chunk."""
        for name in (self.rows, "labels", "keys"):
            if not isinstance(f.get(name), h5py.Dataset):
                raise KeyError(f"{self.h5_path}: no dataset {name!r}")
        data, labels, keys = f[self.rows], f["labels"], f["keys"]
        total = data.shape[0]
        if data.dtype != np.float32 or data.ndim != 5 or (data.shape[1], *data.shape[3:]) != (
            NUM_COORDS, NUM_JOINTS, NUM_BODIES
        ):
            raise ValueError(
                f"{self.h5_path}: {self.rows!r} is {data.dtype} {data.shape}, "
                f"expected float32 (N, {NUM_COORDS}, T, {NUM_JOINTS}, {NUM_BODIES})"
            )
        if labels.shape != (total,) or keys.shape != (total,):
            raise ValueError(
                f"{self.h5_path}: labels {labels.shape} and keys {keys.shape} "
                f"do not match {total} rows of {self.rows!r}"
            )
        if h5py.check_string_dtype(keys.dtype) is None:
            raise ValueError(f"{self.h5_path}: 'keys' must hold strings, not {keys.dtype}")
        chunk = data.chunks or data.shape
        return total, int(np.prod(chunk)) * data.dtype.itemsize

    def _rows(self) -> h5py.Dataset:
        """This process's read-only handle on the rows (opened on first use and after a fork)."""
        if self._handles is None or self._pid != os.getpid():
            f = open_h5(self.h5_path, rdcc_nbytes=self.cache_bytes)
            self._handles = (f, f[self.rows])
            self._pid = os.getpid()
        return self._handles[1]

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        x = self._rows()[int(self._indices[i])]
        return torch.from_numpy(x), int(self._labels[i]), self._keys[i].decode()

    def labels(self) -> np.ndarray:
        """Labels (int64) of the selected rows, in dataset order; reads no tensors."""
        return self._labels.copy()

    def close(self) -> None:
        """Close this process's handle (reopened lazily on the next read)."""
        if self._handles is not None and self._pid == os.getpid():
            self._handles[0].close()
        self._handles = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handles": None, "_pid": None}
