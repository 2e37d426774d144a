"""WebDataset shards of one benchmark split and their ``<split>.json`` index (written and read here).

A split's samples are permuted with ``numpy.random.default_rng(shard_seed)`` and cut into
``min(128, ceil(n / 64))`` shards whose sizes differ by at most one, so shards can be dealt out
whole to GPUs x loader workers. Tar members carry a fixed mtime (0) and owner, so the same
samples and seed give byte-identical shards. They are written with the standard library's
``tarfile`` exactly as ``webdataset.TarWriter(user="actclr", group="actclr", mtime=0)`` writes
them (same encoders, same member order, same headers: ``tarfile``'s, made here for the usual short
ASCII names), without importing webdataset (and torch).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actclr.store.atomic import atomic_path, write_json
from actclr.store.errors import DatasetError
from actclr.store.members import LABEL, META, SKELETON
from actclr.store.paths import UnsafePathError, check_component, check_name
from actclr.store.reader import PreparedDataset, open_dataset

SAMPLES_PER_SHARD = 64
MAX_SHARDS = 128
#: Manifest columns copied into each sample's ``json`` member (plus ``index``, the manifest row).
JSON_FIELDS = ("key", "label", "subject", "camera", "setup", "replication", "video", "frames", "bodies")


def shard_sizes(n: int, per_shard: int = SAMPLES_PER_SHARD, max_shards: int = MAX_SHARDS) -> list:
    """Sizes of the shards of an ``n``-sample split: ``min(max_shards, ceil(n / per_shard))`` near-equal parts."""
    count = min(max_shards, math.ceil(n / per_shard))
    if count == 0:
        return []
    base, extra = divmod(n, count)
    return [base + 1 if i < extra else base for i in range(count)]


def shuffled_rows(rows: np.ndarray, seed: int) -> np.ndarray:
    """The split's manifest rows in shard order."""
    return np.random.default_rng(seed).permutation(np.asarray(rows, dtype=np.int64))


def shard_name(split: str, i: int) -> str:
    return f"{split}-{i:06d}.tar"


def make_sample(row: dict, index: int, ready: np.ndarray) -> dict:
    """The WebDataset sample of manifest ``row`` (row number ``index``) with tensor ``ready`` ``(3, 50, 25, 2)``."""
    meta = {name: row.get(name) for name in JSON_FIELDS}
    meta["index"] = int(index)
    return {"__key__": row["key"], SKELETON: np.asarray(ready, dtype=np.float32),
            LABEL: int(row["label"]), META: meta}


_NPY_HEADERS: dict = {}


def _npy(array: np.ndarray) -> bytes:
    """``array`` as an ``.npy`` file (``numpy.lib.format.write_array``'s bytes; the header of a
    C-contiguous array is made once per shape and dtype)."""
    if not array.flags.c_contiguous:
        npy = io.BytesIO()
        np.lib.format.write_array(npy, array, allow_pickle=False)
        return npy.getvalue()
    kind = (array.shape, array.dtype.str)
    if kind not in _NPY_HEADERS:
        npy = io.BytesIO()
        np.lib.format.write_array(npy, np.zeros(array.shape, array.dtype), allow_pickle=False)
        _NPY_HEADERS[kind] = npy.getvalue()[:len(npy.getvalue()) - array.nbytes]
    return _NPY_HEADERS[kind] + array.tobytes()


def encode_sample(sample: dict) -> list:
    """``[(member name, bytes)]`` of a :func:`make_sample` sample, in tar order (sorted by member):
    ``cls`` as ASCII digits, ``json`` as ``json.dumps``, ``skeleton.npy`` as an ``.npy`` file."""
    encoded = {LABEL: str(int(sample[LABEL])).encode("ascii"), META: json.dumps(sample[META]).encode("utf-8"),
               SKELETON: _npy(np.asarray(sample[SKELETON]))}
    return [(f"{sample['__key__']}.{member}", encoded[member]) for member in sorted(encoded)]


_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
#: The ustar header fields after a member's size: mtime 0, then (after the checksum) a regular
#: file, no link, the POSIX magic, owner and group ``actclr``, no device numbers, no prefix.
_MTIME = b"0" * 11 + b"\0"
_USTAR_TAIL = (b"0" + b"\0" * 100 + tarfile.POSIX_MAGIC + b"actclr".ljust(32, b"\0") * 2).ljust(_BLOCK - 156, b"\0")


def _header(name: str, size: int) -> bytes:
    """The tar header ``tarfile`` (PAX format) writes for member ``name`` of ``size`` bytes with
    :func:`write_shard`'s fields. Names that need a PAX extended header (non-ASCII, 100 bytes or
    longer) and sizes of 8 GiB or more are left to ``tarfile``."""
    if len(name) >= 100 or not name.isascii() or size >= 8 ** 11:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, 0, 0o444
        info.uname = info.gname = "actclr"
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    head = name.encode("ascii").ljust(100, b"\0") + b"0000444\0" + b"0000000\0" * 2 + b"%011o\0" % size + _MTIME
    checksum = sum(head) + sum(_USTAR_TAIL) + 8 * 32
    return head + b"%06o\0 " % checksum + _USTAR_TAIL


def write_shard(path: str | os.PathLike, samples: Iterable[dict]) -> str:
    """Write ``samples`` (:func:`make_sample` dicts) as the tar ``path`` (temporary name, then
    renamed), byte for byte what ``tarfile`` writes in stream mode; returns its sha256."""
    sha = hashlib.sha256()
    written = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        def put(data: bytes) -> None:
            nonlocal written
            sha.update(data)
            f.write(data)
            written += len(data)

        for sample in samples:
            for name, data in encode_sample(sample):
                put(_header(name, len(data)))
                put(data)
                if len(data) % _BLOCK:
                    put(bytes(_BLOCK - len(data) % _BLOCK))
        put(bytes(2 * _BLOCK))
        if written % _RECORD:
            put(bytes(_RECORD - written % _RECORD))
    return sha.hexdigest()


def write_index(directory: str | os.PathLike, benchmark: str, split: str, sizes: list, seed: int) -> dict:
    """Write ``<split>.json``, the index of the split's shards of ``sizes`` samples; returns it."""
    shards = [{"url": shard_name(split, i), "num_samples": size} for i, size in enumerate(sizes)]
    index = {"benchmark": benchmark, "split": split, "num_samples": sum(sizes), "shard_seed": seed,
             "shards": shards}
    write_json(Path(directory) / f"{split}.json", index)
    return index


def write_split(directory: str | os.PathLike, benchmark: str, split: str, samples: Iterable[dict],
                num_samples: int, seed: int) -> dict:
    """Write ``samples`` (in shard order, ``num_samples`` of them) as ``<split>-NNNNNN.tar`` + ``<split>.json``.

    Each tar is written under a temporary name and renamed when full; the index comes last.
    Returns the index dict.
    """
    directory = Path(directory)
    stream: Iterator[dict] = iter(samples)
    sizes = shard_sizes(num_samples)
    for i, size in enumerate(sizes):
        write_shard(directory / shard_name(split, i), (next(stream) for _ in range(size)))
    if next(stream, None) is not None:
        raise ValueError(f"{benchmark}/{split}: more samples than the {num_samples} announced")
    return write_index(directory, benchmark, split, sizes, seed)


@dataclass(frozen=True)
class ShardIndex:
    """Parsed ``shards/<benchmark>/<split>.json``.

    ``files``: the shards' paths inside the dataset (``shards/<benchmark>/<url>``, each checked by
    :mod:`actclr.store.paths`); ``urls``: their locations, built from the dataset's location;
    ``sha256``: their digests listed in ``dataset.json`` (``None`` where it lists none).
    """

    location: str
    benchmark: str
    split: str
    num_samples: int
    shard_seed: int | None
    files: list[str]
    urls: list[str]
    sizes: list[int]
    sha256: list[str | None]


def read_shard_index(dataset, benchmark: str, split: str, verify: bool = True) -> ShardIndex:
    """Read the index ``shards/<benchmark>/<split>.json`` of ``dataset`` (a :class:`PreparedDataset`
    or its location: directory, ``file://`` or fsspec URL).

    With ``verify`` the index's bytes must match their sha256 in ``dataset.json``. Raises
    ``FileNotFoundError``/``DatasetError`` naming the index when it is missing, unsafe (a shard
    ``url`` that is not a relative path inside the dataset) or inconsistent.
    """
    ds = dataset if isinstance(dataset, PreparedDataset) else open_dataset(dataset)
    folder = f"shards/{check_component(benchmark, 'benchmark')}"
    name = f"{folder}/{check_component(split, 'split')}.json"
    location = ds.url_of(name)
    try:
        data = ds.read_bytes(name)
    except OSError as exn:
        raise FileNotFoundError(f"{location}: cannot read the shard index ({exn})") from exn
    if verify and hashlib.sha256(data).hexdigest() != ds.sha256_of(name):
        raise DatasetError(f"{location}: sha256 differs from dataset.json (index modified or corrupted)")
    try:
        index = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exn:
        raise DatasetError(f"{location}: not a JSON shard index ({exn})") from exn
    try:
        entries = index["shards"]
        files = [f"{folder}/{check_name(entry['url'], location)}" for entry in entries]
        sizes = [int(entry["num_samples"]) for entry in entries]
        num_samples = int(index["num_samples"])
    except UnsafePathError:
        raise
    except (KeyError, TypeError, ValueError) as exn:
        raise DatasetError(f"{location}: malformed shard index (missing or bad field {exn})") from exn
    if (index.get("benchmark"), index.get("split")) != (benchmark, split):
        raise DatasetError(
            f"{location}: index is for {index.get('benchmark')}/{index.get('split')}, "
            f"expected {benchmark}/{split}"
        )
    if sum(sizes) != num_samples:
        raise DatasetError(f"{location}: shard sizes add up to {sum(sizes)}, num_samples says {num_samples}")
    digests = [ds.info.get("files", {}).get(f) for f in files]
    return ShardIndex(location, benchmark, split, num_samples, index.get("shard_seed"), files,
                      [ds.url_of(f) for f in files], sizes, digests)
