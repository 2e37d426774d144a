"""Chunk results of an unfinished ``prepare``: ``<out>/.partial/``.

A worker parses and normalizes a chunk of raw files and leaves everything the main process needs
to book it and the writers need to store it, as final bytes. Chunk ``k`` with configuration hash
``c`` is three files:

- ``tail-k-<c>.npz``: for each compressed dataset (:mod:`actclr.store.chunks`), its row count after
  chunk ``k`` and the rows after its last chunk boundary, which chunk ``k + 1`` continues from.
  Written first, as soon as the chunk is parsed, so that the next chunk's worker waits only for that;
- ``chunk-k-<c>.bin``: the ``ready`` tensors as float32 ``(n, C, T, V, M)`` (for the average
  motions and the shards), then the compressed chunks of every dataset, back to back;
- ``chunk-k.npz``: the configuration hash, manifest rows, ``bad`` / ``skipped`` reports, the
  sha256 of the raw files the worker hashed, lengths, video names, and per dataset the first
  chunk index and the size of each compressed chunk.
  Written last: a chunk is done when this file names ``c`` and the other two exist.

The configuration hash covers the settings and the raw files of chunks ``0 .. k`` (where chunk
boundaries fall depends on every earlier chunk), so a rerun reuses exactly the chunks that would
come out the same; files named after another hash are never read.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actclr.store.atomic import atomic_path
from actclr.store.chunks import Piece

PARTIAL_DIR = ".partial"
_JSON_FIELDS = ("config", "rows", "bad", "skipped", "digests", "video_names")
_ARRAY_FIELDS = ("lengths", "video_lengths")


def chunk_path(out: str | os.PathLike, index: int) -> Path:
    """The chunk's book (``chunk-NNNNNN.npz``), written last."""
    return Path(out) / PARTIAL_DIR / f"chunk-{index:06d}.npz"


def data_path(out: str | os.PathLike, index: int, config: str) -> Path:
    """The chunk's bytes: ready tensors, then compressed chunks."""
    return Path(out) / PARTIAL_DIR / f"chunk-{index:06d}-{config[:16]}.bin"


def tail_path(out: str | os.PathLike, index: int, config: str) -> Path:
    """Where the datasets stand after the chunk (what the next chunk continues from)."""
    return Path(out) / PARTIAL_DIR / f"tail-{index:06d}-{config[:16]}.npz"


@dataclass
class ChunkResult:
    """The books of one chunk, samples in key order.

    ``rows`` manifest rows (dicts), ``bad`` / ``skipped`` report entries, ``digests``
    ``{raw file location: sha256}`` of the raw files hashed while converting, ``lengths (n,)`` raw
    frames per sample, ``video_lengths (v,)`` and ``video_names`` (PKU-MMD); ``pieces`` the
    compressed chunks of each dataset (:class:`~actclr.store.chunks.Piece`); ``ready (n, C, T, V, M)``
    float32 (read from ``data``, the chunk's ``.bin`` file, where sample ``i`` starts at byte
    ``i * ready[0].nbytes``).
    """

    config: str
    ready: np.ndarray
    pieces: dict
    data: str = ""
    rows: list = field(default_factory=list)
    bad: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    digests: dict = field(default_factory=dict)
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    video_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    video_names: list = field(default_factory=list)


def _save_npz(path: Path, arrays: dict) -> None:
    """An ``.npz`` of plain arrays (no pickles), stored uncompressed, written atomically."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _load_npz(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def save_tail(path: str | os.PathLike, tails: dict) -> None:
    """Save ``{dataset: (rows so far, remainder rows)}`` atomically."""
    arrays = {}
    for name, (end, carry) in tails.items():
        arrays[f"{name}.end"] = np.int64(end)
        arrays[f"{name}.carry"] = carry
    _save_npz(Path(path), arrays)


def load_tail(path: str | os.PathLike) -> dict | None:
    """``{dataset: (rows so far, remainder rows)}`` saved at ``path``, ``None`` if absent or unreadable."""
    arrays = _load_npz(Path(path))
    if arrays is None:
        return None
    names = {key.rsplit(".", 1)[0] for key in arrays}
    return {name: (int(arrays[f"{name}.end"]), arrays[f"{name}.carry"]) for name in names}


def save_chunk(out: str | os.PathLike, index: int, chunk: ChunkResult) -> None:
    """Save ``chunk`` (its ``ready`` and ``pieces`` bytes into the ``.bin``, then the books)."""
    blobs = [piece.chunks for piece in chunk.pieces.values()]
    with atomic_path(data_path(out, index, chunk.config)) as tmp, open(tmp, "wb") as f:
        f.write(np.ascontiguousarray(chunk.ready, np.float32).tobytes())
        for chunks in blobs:
            for data in chunks:
                f.write(data)
    arrays = {name: np.array(json.dumps(getattr(chunk, name))) for name in _JSON_FIELDS}
    arrays.update({name: np.asarray(getattr(chunk, name), np.int64) for name in _ARRAY_FIELDS})
    arrays["ready_shape"] = np.asarray(chunk.ready.shape, np.int64)
    arrays["pieces"] = np.array(json.dumps(list(chunk.pieces)))
    for name, piece in chunk.pieces.items():
        arrays[f"{name}.sizes"] = np.array([len(data) for data in piece.chunks], np.int64)
        arrays[f"{name}.span"] = np.array([piece.first, piece.end], np.int64)
    _save_npz(chunk_path(out, index), arrays)


def chunk_config(out: str | os.PathLike, index: int) -> str | None:
    """The configuration hash of a finished chunk (books, bytes and tail present), else ``None``."""
    arrays = _load_npz(chunk_path(out, index))
    if arrays is None or "config" not in arrays:
        return None
    config = json.loads(str(arrays["config"]))
    done = data_path(out, index, config).is_file() and tail_path(out, index, config).is_file()
    return config if done else None


def load_chunk(out: str | os.PathLike, index: int, config: str) -> ChunkResult | None:
    """Chunk ``index`` if it is finished, readable and was made with ``config``; else ``None``."""
    arrays = _load_npz(chunk_path(out, index))
    path = data_path(out, index, config)
    try:
        if arrays is None or json.loads(str(arrays["config"])) != config:
            return None
        values = {name: json.loads(str(arrays[name])) for name in _JSON_FIELDS}
        values.update({name: arrays[name] for name in _ARRAY_FIELDS})
        shape = tuple(int(v) for v in arrays["ready_shape"])
        names = json.loads(str(arrays["pieces"]))
        data = path.read_bytes()
        ready_bytes = int(np.prod(shape)) * 4
        ready = np.frombuffer(data, np.float32, count=ready_bytes // 4).reshape(shape)
        pieces, offset = {}, ready_bytes
        for name in names:
            chunks = []
            for size in arrays[f"{name}.sizes"].tolist():
                chunks.append(data[offset:offset + size])
                offset += size
            first, end = arrays[f"{name}.span"].tolist()
            pieces[name] = Piece(first, chunks, end)
    except (OSError, KeyError, ValueError):
        return None
    if offset != len(data) or not tail_path(out, index, config).is_file():
        return None
    return ChunkResult(ready=ready, pieces=pieces, data=str(path), **values)


def read_ready(data: str | os.PathLike, position: int, shape: tuple) -> np.ndarray:
    """Sample ``position`` ``shape`` float32 of a chunk's ``.bin`` file (for the shard writers)."""
    count = int(np.prod(shape))
    return np.fromfile(data, np.float32, count=count, offset=position * count * 4).reshape(shape)
