"""``skeletons.h5`` and ``videos.h5``: ragged raw-length sequences plus fixed-size ready tensors.

Both files are built by appending pieces of samples to resizable datasets, under a temporary
name that is renamed into place when the writer's ``with`` block ends without error. The
compressed tensor datasets (:func:`skeleton_layouts`, :data:`VIDEO_LAYOUTS`) take either arrays
(compressed here) or chunks compressed elsewhere (``prepare``'s workers, :mod:`actclr.store.chunks`),
stored as they are with ``write_direct_chunk``.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import h5py
import numpy as np

from actclr.skeleton import FRAME_SHAPE
from actclr.store.atomic import atomic_path
from actclr.store.chunks import GZIP_LEVEL, Layout, Piece
from actclr.store.manifest import FORMAT_VERSION
from actclr.store.paths import UnsafePathError

FRAME_CHUNK = 256
#: Compression of every tensor dataset (portable everywhere: no plugins needed to read).
COMPRESSION = {"compression": "gzip", "compression_opts": GZIP_LEVEL, "shuffle": True}
STRING = h5py.string_dtype("utf-8")
#: The compressed datasets of ``videos.h5``: frames ``(F, 2, 25, 3)``, per-frame labels ``(F,)`` int16.
VIDEO_LAYOUTS = {"frames": Layout("frames", FRAME_SHAPE, "float32", FRAME_CHUNK),
                 "labels": Layout("labels", (), "int16", 4096)}


def skeleton_layouts(ready_shape: tuple) -> dict:
    """The compressed datasets of ``skeletons.h5``: raw frames ``(F, 2, 25, 3)`` and ``ready``
    ``(N, *ready_shape)``, one sample per chunk (random reads of single samples stay cheap)."""
    return {"frames": Layout("raw/frames", FRAME_SHAPE, "float32", FRAME_CHUNK),
            "ready": Layout("ready", tuple(ready_shape), "float32", 1)}


def _growing(f: h5py.Group, name: str, shape: tuple, dtype, chunks: tuple, compress: bool = True) -> h5py.Dataset:
    """An empty dataset ``(0, *shape)`` that grows along axis 0."""
    extra = COMPRESSION if compress else {}
    return f.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=chunks, **extra)


def _append(ds: h5py.Dataset, data) -> None:
    """Append ``data`` (``(n, *ds.shape[1:])``) at the end of ``ds``."""
    n = len(data)
    if n:
        ds.resize(ds.shape[0] + n, axis=0)
        ds[-n:] = data


class _Chunked:
    """A compressed dataset filled chunk by chunk with ``write_direct_chunk``."""

    def __init__(self, f: h5py.File, layout: Layout):
        self.layout = layout
        self.ds = _growing(f, layout.name, layout.row_shape, np.dtype(layout.dtype), layout.chunk_shape)
        self.carry = layout.empty()           # rows after the last boundary, for :meth:`append`

    def put(self, piece: Piece) -> None:
        """Store ready-made chunks; the dataset grows to ``piece.end`` rows."""
        if piece.end > self.ds.shape[0]:
            self.ds.resize(piece.end, axis=0)
        zeros = (0,) * len(self.layout.row_shape)
        for j, data in enumerate(piece.chunks):
            self.ds.id.write_direct_chunk(((piece.first + j) * self.layout.rows, *zeros), data)

    def append(self, data: np.ndarray, last: bool = False) -> None:
        """Compress and append rows ``data`` (``last`` also closes the final, partial chunk)."""
        first = (self.ds.shape[0] - len(self.carry)) // self.layout.rows
        blocks, self.carry = self.layout.cut(self.carry, data, last)
        self.put(Piece(first, self.layout.encode(blocks), self.ds.shape[0] + len(data)))


class _Ragged:
    """``frames (F, 2, 25, 3)`` + ``offsets (N + 1,)``: item ``i`` is ``frames[offsets[i]:offsets[i+1]]``."""

    def __init__(self, f: h5py.File, frames: Layout, group: str = ""):
        self.frames = _Chunked(f, frames)
        self.offsets = _growing(f, f"{group}offsets", (), np.int64, (4096,), compress=False)
        _append(self.offsets, np.zeros(1, dtype=np.int64))

    def extend(self, lengths: np.ndarray) -> None:
        """Record items of ``lengths`` frames (their frames are appended separately)."""
        _append(self.offsets, int(self.offsets[-1]) + np.cumsum(np.asarray(lengths, dtype=np.int64)))


class SkeletonWriter:
    """Writes ``skeletons.h5``: ``raw/frames``, ``raw/offsets``, ``ready``, ``labels``, ``keys``, averages.

    Samples come as arrays (:meth:`append`) or as chunks compressed elsewhere
    (:meth:`append_encoded`); a file is written one way or the other, not both.
    """

    def __init__(self, f: h5py.File, dataset: str, profile: dict, ready_shape: tuple):
        f.attrs["dataset"] = dataset
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["profile"] = json.dumps(profile, sort_keys=True)
        self.f = f
        layouts = skeleton_layouts(ready_shape)
        self.raw = _Ragged(f, layouts["frames"], "raw/")
        self.ready = _Chunked(f, layouts["ready"])
        self.labels = _growing(f, "labels", (), np.int64, (4096,), compress=False)
        self.keys = _growing(f, "keys", (), STRING, (4096,), compress=False)

    def _index(self, lengths: np.ndarray, labels, keys) -> None:
        if not (len(lengths) == len(labels) == len(keys)):
            raise ValueError("append: lengths, ready, labels and keys must have one entry per sample")
        self.raw.extend(lengths)
        _append(self.labels, np.asarray(labels, dtype=np.int64))
        _append(self.keys, np.asarray(list(keys), dtype=object))

    def append(self, frames: np.ndarray, lengths: np.ndarray, ready: np.ndarray, labels, keys) -> None:
        """Append ``n`` samples: raw ``frames`` ``(sum(lengths), 2, 25, 3)``, ``ready`` ``(n, 3, T, 25, 2)``."""
        if len(ready) != len(lengths):
            raise ValueError("append: lengths, ready, labels and keys must have one entry per sample")
        self._index(lengths, labels, keys)
        self.raw.frames.append(frames)
        self.ready.append(ready)

    def append_encoded(self, lengths: np.ndarray, labels, keys, frames: Piece, ready: Piece) -> None:
        """Append ``n`` samples whose raw frames and ready tensors are already chunked and compressed."""
        if ready.end - self.ready.ds.shape[0] != len(lengths):
            raise ValueError("append_encoded: ready must hold one chunk per sample")
        self._index(lengths, labels, keys)
        self.raw.frames.put(frames)
        self.ready.put(ready)

    def close(self) -> None:
        """Close the final partial chunk of rows given as arrays."""
        self.raw.frames.append(self.raw.frames.layout.empty(), last=True)

    def set_average(self, benchmark: str, mean: np.ndarray) -> None:
        """Store ``average_motion/<benchmark>`` ``(3, T, 25, 2)`` float32."""
        self.f.create_dataset(f"average_motion/{benchmark}", data=np.asarray(mean, dtype=np.float32))


class VideoWriter:
    """Writes ``videos.h5`` (PKU-MMD): full-length videos and per-frame labels (-1 = background)."""

    def __init__(self, f: h5py.File, dataset: str):
        f.attrs["dataset"] = dataset
        f.attrs["format_version"] = FORMAT_VERSION
        self.videos = _Ragged(f, VIDEO_LAYOUTS["frames"])
        self.labels = _Chunked(f, VIDEO_LAYOUTS["labels"])
        self.names = _growing(f, "names", (), STRING, (1024,), compress=False)

    def _index(self, lengths: np.ndarray, names) -> None:
        if len(lengths) != len(names):
            raise ValueError("append: frames/labels or lengths/names disagree in length")
        self.videos.extend(lengths)
        _append(self.names, np.asarray(list(names), dtype=object))

    def append(self, frames: np.ndarray, lengths: np.ndarray, labels: np.ndarray, names) -> None:
        """Append videos: ``frames`` ``(sum(lengths), 2, 25, 3)`` and ``labels`` ``(sum(lengths),)``."""
        if len(frames) != len(labels):
            raise ValueError("append: frames/labels or lengths/names disagree in length")
        self._index(lengths, names)
        self.videos.frames.append(frames)
        self.labels.append(np.asarray(labels, dtype=np.int16))

    def append_encoded(self, lengths: np.ndarray, names, frames: Piece, labels: Piece) -> None:
        """Append videos whose frames and labels are already chunked and compressed."""
        self._index(lengths, names)
        self.videos.frames.put(frames)
        self.labels.put(labels)

    def close(self) -> None:
        """Close the final partial chunks of rows given as arrays."""
        self.videos.frames.append(VIDEO_LAYOUTS["frames"].empty(), last=True)
        self.labels.append(VIDEO_LAYOUTS["labels"].empty(), last=True)


@contextmanager
def skeleton_writer(path: str | os.PathLike, dataset: str, profile: dict,
                    ready_shape: tuple) -> Iterator[SkeletonWriter]:
    """Open a :class:`SkeletonWriter` (``ready`` samples ``(C, T, V, M)`` = ``ready_shape``) on a
    temporary file renamed to ``path`` on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        writer = SkeletonWriter(f, dataset, profile, ready_shape)
        yield writer
        writer.close()


@contextmanager
def video_writer(path: str | os.PathLike, dataset: str) -> Iterator[VideoWriter]:
    """Open a :class:`VideoWriter` on a temporary file renamed to ``path`` on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        writer = VideoWriter(f, dataset)
        yield writer
        writer.close()


def check_self_contained(f: h5py.File) -> None:
    """Refuse an HDF5 file that reaches outside itself (a dataset's files choose no path):
    external links, datasets stored in external files, virtual datasets (``UnsafePathError``)."""

    def visit(name: str, link) -> str | None:   # a returned value stops the walk (h5py)
        if isinstance(link, h5py.ExternalLink):
            return f"{f.filename}: {name!r} is an external link to {link.filename}; refused"
        if isinstance(link, h5py.HardLink):
            obj = f[name]
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                return f"{f.filename}: dataset {name!r} keeps its data in other files; refused"
        return None

    problem = f.visititems_links(visit)
    if problem:
        raise UnsafePathError(problem)


_TRUNCATED = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")


def _open_problem(message: str) -> str:
    """HDF5's reason for not opening a file, in words (``truncated: 10 of 20 bytes`` ...)."""
    truncated = _TRUNCATED.search(message)
    if truncated:
        return f"truncated ({truncated[1]} of {truncated[2]} bytes; copy or download it again)"
    return message.removeprefix("Unable to synchronously open file ").strip() or "unreadable"


def open_h5(path: str | os.PathLike, rdcc_nbytes: int = 32 << 20) -> h5py.File:
    """Open read-only with a chunk cache (32 MiB default: good for random per-sample reads).

    Raises ``OSError`` (the same subtype as h5py's) whose message names the file and the problem,
    and ``UnsafePathError`` for a file that is not self-contained (:func:`check_self_contained`).
    """
    try:
        f = h5py.File(path, "r", rdcc_nbytes=rdcc_nbytes)
    except OSError as err:
        raise type(err)(f"{os.fspath(path)}: cannot read this HDF5 file: {_open_problem(str(err))}") from err
    try:
        check_self_contained(f)
    except UnsafePathError:
        f.close()
        raise
    return f


def ragged_item(group: h5py.Group, i: int) -> np.ndarray:
    """Item ``i`` ``(T, 2, 25, 3)`` of a ``frames``/``offsets`` pair (``f["raw"]`` or a videos file)."""
    lo, hi = group["offsets"][i:i + 2]
    return group["frames"][lo:hi]


def read_strings(ds: h5py.Dataset) -> list:
    """A string dataset as a list of ``str``."""
    return list(ds.asstr()[()])
