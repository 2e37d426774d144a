"""``skeletons.h5`` and ``videos.h5``: ragged raw-length sequences plus fixed-size ready tensors.

Both files are built by appending chunks of samples to resizable datasets, under a temporary
name that is renamed into place when the writer's ``with`` block ends without error.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import h5py
import numpy as np

from actclr.store.atomic import atomic_path
from actclr.store.manifest import FORMAT_VERSION
from actclr.store.paths import UnsafePathError

FRAME_SHAPE = (2, 25, 3)
#: ``ready`` sample shape ``(C, T, V, M)`` of the default profile (``T`` = the profile's ``frames``).
READY_SHAPE = (3, 50, 25, 2)
FRAME_CHUNK = 256
#: Compression of every tensor dataset (portable everywhere: no plugins needed to read).
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
STRING = h5py.string_dtype("utf-8")


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


class _Ragged:
    """``frames (F, 2, 25, 3)`` + ``offsets (N + 1,)``: item ``i`` is ``frames[offsets[i]:offsets[i+1]]``."""

    def __init__(self, group: h5py.Group):
        self.frames = _growing(group, "frames", FRAME_SHAPE, np.float32, (FRAME_CHUNK, *FRAME_SHAPE))
        self.offsets = _growing(group, "offsets", (), np.int64, (4096,), compress=False)
        _append(self.offsets, np.zeros(1, dtype=np.int64))

    def append(self, frames: np.ndarray, lengths: np.ndarray) -> None:
        """Append items whose frames are concatenated in ``frames`` ``(sum(lengths), 2, 25, 3)``."""
        end = int(self.offsets[-1])
        _append(self.frames, frames)
        _append(self.offsets, end + np.cumsum(np.asarray(lengths, dtype=np.int64)))


class SkeletonWriter:
    """Writes ``skeletons.h5``: ``raw/frames``, ``raw/offsets``, ``ready``, ``labels``, ``keys``, averages."""

    def __init__(self, f: h5py.File, dataset: str, profile: dict, ready_shape: tuple = READY_SHAPE):
        f.attrs["dataset"] = dataset
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["profile"] = json.dumps(profile, sort_keys=True)
        self.f = f
        self.raw = _Ragged(f.create_group("raw"))
        self.ready = _growing(f, "ready", ready_shape, np.float32, (1, *ready_shape))
        self.labels = _growing(f, "labels", (), np.int64, (4096,), compress=False)
        self.keys = _growing(f, "keys", (), STRING, (4096,), compress=False)

    def append(self, frames: np.ndarray, lengths: np.ndarray, ready: np.ndarray, labels, keys) -> None:
        """Append ``n`` samples: raw ``frames`` ``(sum(lengths), 2, 25, 3)``, ``ready`` ``(n, 3, T, 25, 2)``."""
        if not (len(lengths) == len(ready) == len(labels) == len(keys)):
            raise ValueError("append: lengths, ready, labels and keys must have one entry per sample")
        self.raw.append(frames, lengths)
        _append(self.ready, ready)
        _append(self.labels, np.asarray(labels, dtype=np.int64))
        _append(self.keys, np.asarray(list(keys), dtype=object))

    def set_average(self, benchmark: str, mean: np.ndarray) -> None:
        """Store ``average_motion/<benchmark>`` ``(3, T, 25, 2)`` float32."""
        self.f.create_dataset(f"average_motion/{benchmark}", data=np.asarray(mean, dtype=np.float32))


class VideoWriter:
    """Writes ``videos.h5`` (PKU-MMD): full-length videos and per-frame labels (-1 = background)."""

    def __init__(self, f: h5py.File, dataset: str):
        f.attrs["dataset"] = dataset
        f.attrs["format_version"] = FORMAT_VERSION
        self.videos = _Ragged(f)
        self.labels = _growing(f, "labels", (), np.int16, (4096,))
        self.names = _growing(f, "names", (), STRING, (1024,), compress=False)

    def append(self, frames: np.ndarray, lengths: np.ndarray, labels: np.ndarray, names) -> None:
        """Append videos: ``frames`` ``(sum(lengths), 2, 25, 3)`` and ``labels`` ``(sum(lengths),)``."""
        if len(frames) != len(labels) or len(lengths) != len(names):
            raise ValueError("append: frames/labels or lengths/names disagree in length")
        self.videos.append(frames, lengths)
        _append(self.labels, np.asarray(labels, dtype=np.int16))
        _append(self.names, np.asarray(list(names), dtype=object))


@contextmanager
def skeleton_writer(path: str | os.PathLike, dataset: str, profile: dict,
                    ready_shape: tuple = READY_SHAPE) -> Iterator[SkeletonWriter]:
    """Open a :class:`SkeletonWriter` on a temporary file renamed to ``path`` on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        yield SkeletonWriter(f, dataset, profile, ready_shape)


@contextmanager
def video_writer(path: str | os.PathLike, dataset: str) -> Iterator[VideoWriter]:
    """Open a :class:`VideoWriter` on a temporary file renamed to ``path`` on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        yield VideoWriter(f, dataset)


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
