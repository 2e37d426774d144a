"""WebDataset shards of one benchmark split and their ``<split>.json`` index (written and read here).

A split's samples are permuted with ``numpy.random.default_rng(shard_seed)`` and cut into
``min(128, ceil(n / 64))`` shards whose sizes differ by at most one, so shards can be dealt out
whole to GPUs x loader workers. Tar members carry a fixed mtime (0) and owner, so the same
samples and seed give byte-identical shards.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import webdataset as wds
from webdataset.gopen import gopen

from actclr.store.atomic import atomic_path, write_json

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
    return {"__key__": row["key"], "skeleton.npy": np.asarray(ready, dtype=np.float32),
            "cls": int(row["label"]), "json": meta}


def write_split(directory: str | os.PathLike, benchmark: str, split: str, samples: Iterable[dict],
                num_samples: int, seed: int) -> dict:
    """Write ``samples`` (in shard order, ``num_samples`` of them) as ``<split>-NNNNNN.tar`` + ``<split>.json``.

    Each tar is written under a temporary name and renamed when full; the index comes last.
    Returns the index dict.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stream: Iterator[dict] = iter(samples)
    shards = []
    for i, size in enumerate(shard_sizes(num_samples)):
        name = shard_name(split, i)
        with (atomic_path(directory / name) as tmp, open(tmp, "wb") as f,
              wds.TarWriter(f, user="actclr", group="actclr", mtime=0) as writer):
            for _ in range(size):
                writer.write(next(stream))
        shards.append({"url": name, "num_samples": size})
    if next(stream, None) is not None:
        raise ValueError(f"{benchmark}/{split}: more samples than the {num_samples} announced")
    index = {"benchmark": benchmark, "split": split, "num_samples": num_samples, "shard_seed": seed,
             "shards": shards}
    write_json(directory / f"{split}.json", index)
    return index


@dataclass(frozen=True)
class ShardIndex:
    """Parsed ``shards/<benchmark>/<split>.json``; ``urls`` are resolved against the index location."""

    location: str
    benchmark: str
    split: str
    num_samples: int
    shard_seed: int | None
    urls: list[str]
    sizes: list[int]


def _join(root: str, *parts: str) -> str:
    """``root/parts...`` for a local path or a URL prefix (``file://``, ``http(s)://``)."""
    if urlparse(root).scheme:
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)


def _resolve(base: str, url: str) -> str:
    """A shard URL from the index, relative ones taken from the index's folder ``base``."""
    if urlparse(url).scheme or os.path.isabs(url):
        return url
    return _join(base, url)


def read_shard_index(root: str, benchmark: str, split: str) -> ShardIndex:
    """Read ``<root>/shards/<benchmark>/<split>.json``; ``root`` is a local path or URL prefix.

    Raises ``FileNotFoundError``/``ValueError`` naming the index when it is missing or inconsistent.
    """
    base = _join(os.fspath(root), "shards", benchmark)
    location = _join(base, f"{split}.json")
    try:
        with gopen(location) as stream:
            index = json.loads(stream.read())
    except json.JSONDecodeError as exn:
        raise ValueError(f"{location}: not a JSON shard index ({exn})") from exn
    except Exception as exn:
        raise FileNotFoundError(f"{location}: cannot read the shard index ({exn})") from exn
    try:
        entries = index["shards"]
        urls = [_resolve(base, entry["url"]) for entry in entries]
        sizes = [int(entry["num_samples"]) for entry in entries]
        num_samples = int(index["num_samples"])
    except (KeyError, TypeError, ValueError) as exn:
        raise ValueError(f"{location}: malformed shard index (missing or bad field {exn})") from exn
    if (index.get("benchmark"), index.get("split")) != (benchmark, split):
        raise ValueError(
            f"{location}: index is for {index.get('benchmark')}/{index.get('split')}, "
            f"expected {benchmark}/{split}"
        )
    if not urls:
        raise ValueError(f"{location}: the index lists no shards")
    if sum(sizes) != num_samples:
        raise ValueError(f"{location}: shard sizes add up to {sum(sizes)}, num_samples says {num_samples}")
    return ShardIndex(location, benchmark, split, num_samples, index.get("shard_seed"), urls, sizes)
