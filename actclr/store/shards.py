"""WebDataset shards of one benchmark split and their ``<split>.json`` index.

A split's samples are permuted with ``numpy.random.default_rng(shard_seed)`` and cut into
``min(128, ceil(n / 64))`` shards whose sizes differ by at most one, so shards can be dealt out
whole to GPUs x loader workers. Tar members carry a fixed mtime (0) and owner, so the same
samples and seed give byte-identical shards.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import webdataset as wds

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
        with atomic_path(directory / name) as tmp, open(tmp, "wb") as f:
            with wds.TarWriter(f, user="actclr", group="actclr", mtime=0) as writer:
                for _ in range(size):
                    writer.write(next(stream))
        shards.append({"url": name, "num_samples": size})
    if next(stream, None) is not None:
        raise ValueError(f"{benchmark}/{split}: more samples than the {num_samples} announced")
    index = {"benchmark": benchmark, "split": split, "num_samples": num_samples, "shard_seed": seed,
             "shards": shards}
    write_json(directory / f"{split}.json", index)
    return index
