"""Build small prepared-dataset pieces (shards + index, ``skeletons.h5``) in the format of
``docs/data-format.md`` for loader tests. Sample ``i`` has key ``key_of(i)``, label ``i % 60`` and a
tensor filled with ``i`` (``(3, 50, 25, 2)`` float32), so every loaded item can be checked."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import webdataset as wds

SHAPE = (3, 50, 25, 2)


def key_of(i: int) -> str:
    return f"S001C001P{i // 1000:03d}R001A{i % 1000:03d}"


def index_of(key: str) -> int:
    return int(key[9:12]) * 1000 + int(key[17:20])


def tensor_of(i: int) -> np.ndarray:
    return np.full(SHAPE, i, dtype=np.float32)


def write_split(
    root: Path, sizes: Sequence[int], *, benchmark: str = "xsub", split: str = "train", members: dict | None = None
) -> list[Path]:
    """Shards ``root/shards/<benchmark>/<split>-%06d.tar`` holding ``sizes[k]`` samples each, plus the index.

    ``members`` overrides tar members of chosen samples: ``{i: {"skeleton.npy": b"..."}}``.
    Also (re)writes a minimal ``root/dataset.json`` whose ``files`` list every file's sha256, as
    the loader verifies shards against it. Returns the shard paths.
    """
    folder = root / "shards" / benchmark
    folder.mkdir(parents=True, exist_ok=True)
    paths, entries, i = [], [], 0
    for k, size in enumerate(sizes):
        path = folder / f"{split}-{k:06d}.tar"
        with wds.TarWriter(str(path), user="actclr", group="actclr", mtime=0) as sink:  # as actclr.store
            for _ in range(size):
                sample = {
                    "__key__": key_of(i),
                    "skeleton.npy": tensor_of(i),
                    "cls": i % 60,
                    "json": {"key": key_of(i), "label": i % 60, "index": i},
                }
                sample.update((members or {}).get(i, {}))
                sink.write(sample)
                i += 1
        paths.append(path)
        entries.append({"url": path.name, "num_samples": size})
    index = {"benchmark": benchmark, "split": split, "num_samples": i, "shard_seed": 0, "shards": entries}
    (folder / f"{split}.json").write_text(json.dumps(index))
    write_dataset_json(root)
    return paths


def write_dataset_json(root: Path, **fields) -> None:
    """``root/dataset.json`` with ``files`` = the sha256 of every file under ``root`` (plus ``fields``)."""
    from actclr.store.checksums import checksum_tree

    (root / "dataset.json").write_text(json.dumps({"files": checksum_tree(root), **fields}))


def write_h5(path: Path, n: int) -> None:
    """``skeletons.h5`` with ``ready`` (one sample per chunk, gzip 4 + shuffle), ``labels``, ``keys``."""
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "ready", data=np.stack([tensor_of(i) for i in range(n)]), chunks=(1, *SHAPE),
            compression="gzip", compression_opts=4, shuffle=True,
        )
        f.create_dataset("labels", data=np.arange(n, dtype=np.int64) % 60)
        f.create_dataset("keys", data=[key_of(i) for i in range(n)], dtype=h5py.string_dtype())
