"""Content fingerprint of a prepared dataset.

sha256 over a canonical serialisation of what the dataset *contains*: the manifest's metadata and
rows (JSON, sorted keys, one row per line) and the tensors of ``skeletons.h5`` (``raw/frames``,
``raw/offsets``, ``ready``, ``average_motion/*``) and, for PKU-MMD, ``videos.h5`` (``frames``,
``offsets``, ``labels``, ``names``), each as a header line (name, little-endian dtype, shape)
followed by its C-order bytes. File timestamps, Parquet encoding, HDF5 layout/compression and
shard packing do not enter it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa

from actclr.store.hdf5 import open_h5
from actclr.store.manifest import manifest_meta, read_manifest

VERSION = b"actclr-fingerprint-1\n"
_BLOCK_BYTES = 8 << 20


def _canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _feed_manifest(h, table: pa.Table) -> None:
    h.update(_canonical_json({"meta": manifest_meta(table), "columns": table.column_names}))
    for batch in table.to_batches(max_chunksize=4096):
        for row in batch.to_pylist():
            h.update(_canonical_json(row))


def _feed_tensor(h, name: str, ds: h5py.Dataset) -> None:
    """Hash ``ds`` block by block (bounded memory) in little-endian C order."""
    if h5py.check_string_dtype(ds.dtype) is not None:
        h.update(_canonical_json({"name": name, "strings": list(ds.asstr()[()])}))
        return
    dtype = ds.dtype.newbyteorder("<")
    h.update(_canonical_json({"name": name, "dtype": dtype.str, "shape": list(ds.shape)}))
    if ds.ndim == 0:
        h.update(np.asarray(ds[()], dtype=dtype).tobytes())
        return
    row_bytes = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    for lo in range(0, ds.shape[0], step):
        h.update(np.ascontiguousarray(ds[lo:lo + step], dtype=dtype).tobytes())


def _feed_h5(h, path: Path, names: list) -> None:
    with open_h5(path) as f:
        for name in names:
            _feed_tensor(h, name, f[name])
        if "average_motion" in f:
            for benchmark in sorted(f["average_motion"]):
                _feed_tensor(h, f"average_motion/{benchmark}", f["average_motion"][benchmark])


def compute_fingerprint(root: str | os.PathLike) -> str:
    """Hex sha256 fingerprint of the dataset directory ``root`` (see module docstring)."""
    root = Path(root)
    h = hashlib.sha256(VERSION)
    _feed_manifest(h, read_manifest(root / "manifest.parquet"))
    _feed_h5(h, root / "skeletons.h5", ["raw/frames", "raw/offsets", "ready"])
    if (root / "videos.h5").exists():
        h.update(b"videos.h5\n")
        _feed_h5(h, root / "videos.h5", ["frames", "offsets", "labels", "names"])
    return h.hexdigest()
