"""Check a prepared dataset end to end; every check returns a list of human-readable problems."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from actclr.store.average import averages_of
from actclr.store.checksums import dataset_files, sha256_file
from actclr.store.fingerprint import compute_fingerprint
from actclr.store.hdf5 import open_h5, read_strings
from actclr.store.manifest import SAMPLE_COLUMNS, SPLITS, read_manifest, split_mask
from actclr.store.members import LABEL, META, SKELETON, MemberError, decode_members
from actclr.store.paths import UnsafePathError, local_file
from actclr.store.reader import DATASET_JSON, PreparedDataset, open_dataset
from actclr.store.shardfile import CorruptShardError, read_shard
from actclr.store.shards import read_shard_index


def check_files(root: Path, info: dict) -> list:
    """Every file listed in ``files`` exists with its sha256; no visible file is unlisted."""
    listed = info.get("files", {})
    problems = []
    for rel, digest in sorted(listed.items()):
        try:
            path = local_file(root, rel, DATASET_JSON)
        except UnsafePathError as e:
            problems.append(str(e))
            continue
        if not path.is_file():
            problems.append(f"{rel}: listed in {DATASET_JSON} but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel}: sha256 differs from {DATASET_JSON} (file modified or corrupted)")
    problems += [f"{rel}: present but not listed in {DATASET_JSON}"
                 for rel in dataset_files(root) if rel not in listed]
    return problems


def check_manifest(table: pa.Table, info: dict) -> list:
    """Columns, key order, sample count, and per-benchmark counts against ``dataset.json``."""
    problems = []
    expected = list(SAMPLE_COLUMNS) + list(info["counts"])
    if table.column_names != expected:
        problems.append(f"manifest.parquet: columns {table.column_names}, expected {expected}")
        return problems
    keys = table.column("key").to_pylist()
    if any(a >= b for a, b in zip(keys, keys[1:])):
        problems.append("manifest.parquet: keys are not strictly increasing")
    if len(keys) != info["num_samples"]:
        problems.append(f"manifest.parquet: {len(keys)} rows, {DATASET_JSON} says {info['num_samples']}")
    labels = table.column("label").to_numpy()
    for benchmark, counts in info["counts"].items():
        for split in SPLITS:
            mask = split_mask(table, benchmark, split)
            if int(mask.sum()) != counts.get(split):
                problems.append(f"manifest {benchmark}/{split}: {int(mask.sum())} samples, "
                                f"{DATASET_JSON} says {counts.get(split)}")
            per_class = np.bincount(labels[mask], minlength=info["num_classes"]).tolist()
            if per_class != info["per_class"][benchmark][split]:
                problems.append(f"manifest {benchmark}/{split}: per-class counts differ from {DATASET_JSON}")
    return problems


def check_skeletons(root: Path, table: pa.Table, info: dict) -> list:
    """Shapes and offsets of ``skeletons.h5``, labels/keys equal to the manifest, average motions."""
    problems = []
    n = table.num_rows
    with open_h5(root / "skeletons.h5") as f:
        offsets = f["raw/offsets"][()]
        if offsets.shape != (n + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 0) \
                or offsets[-1] != f["raw/frames"].shape[0]:
            problems.append(f"skeletons.h5: raw/offsets {offsets.shape} inconsistent with {n} samples "
                            f"and raw/frames {f['raw/frames'].shape}")
        shape = (n, 3, info["profile"]["params"]["frames"], 25, 2)
        if f["ready"].shape != shape:
            problems.append(f"skeletons.h5: ready has shape {f['ready'].shape}, expected {shape}")
            return problems
        if not np.array_equal(f["labels"][()], table.column("label").to_numpy()):
            problems.append("skeletons.h5: labels differ from the manifest")
        if read_strings(f["keys"]) != table.column("key").to_pylist():
            problems.append("skeletons.h5: keys differ from the manifest")
        benchmarks = list(info["counts"])
        recomputed = averages_of(f["ready"], {b: split_mask(table, b, "train") for b in benchmarks})
        for b in benchmarks:
            if f"average_motion/{b}" not in f:
                problems.append(f"skeletons.h5: average_motion/{b} missing")
                continue
            stored = f[f"average_motion/{b}"][()]
            if not np.array_equal(stored, recomputed[b]):
                problems.append(f"skeletons.h5: average_motion/{b} differs from the mean of the {b} training split")
            npy = root / "average_motion" / f"{b}.npy"
            if not npy.is_file() or not np.array_equal(np.load(npy, allow_pickle=False), stored):
                problems.append(f"average_motion/{b}.npy: missing or differs from skeletons.h5")
    return problems


def check_videos(root: Path, table: pa.Table) -> list:
    """``videos.h5``: offsets, one label per frame, and every clip inside its video."""
    problems = []
    with open_h5(root / "videos.h5") as f:
        offsets = f["offsets"][()]
        names = read_strings(f["names"])
        frames = f["frames"].shape[0]
        if offsets.shape != (len(names) + 1,) or offsets[0] != 0 or offsets[-1] != frames \
                or np.any(np.diff(offsets) < 0):
            problems.append("videos.h5: offsets inconsistent with names/frames")
            return problems
        if f["labels"].shape != (frames,):
            problems.append(f"videos.h5: labels {f['labels'].shape}, expected ({frames},)")
    lengths = dict(zip(names, np.diff(offsets).tolist()))
    for key, video, end in zip(*(table.column(c).to_pylist() for c in ("key", "video", "end"))):
        if video not in lengths:
            problems.append(f"{key}: video {video} not in videos.h5")
        elif end > lengths[video]:
            problems.append(f"{key}: clip ends at row {end}, video {video} has {lengths[video]} frames")
    return problems


def check_shards(ds: PreparedDataset, table: pa.Table) -> list:
    """Every shard read strictly (member vocabulary, safe decoders) against its index; counts match
    the index and the manifest; tensors equal the h5. Digests are :func:`check_files`'s job."""
    problems = []
    keys = table.column("key").to_pylist()
    labels = table.column("label").to_pylist()
    with open_h5(ds.url_of("skeletons.h5")) as f:
        ready = f["ready"]
        for benchmark in ds.info["counts"]:
            for split in SPLITS:
                where = f"shards/{benchmark}/{split}"
                try:
                    index = read_shard_index(ds, benchmark, split, verify=False)
                except (OSError, ValueError) as e:
                    problems.append(str(e))
                    continue
                expected_rows = set(np.flatnonzero(split_mask(table, benchmark, split)).tolist())
                if index.num_samples != len(expected_rows):
                    problems.append(f"{where}.json: counts disagree with the manifest ({len(expected_rows)})")
                seen = []
                for name, url, size in zip(index.files, index.urls, index.sizes):
                    try:
                        samples = [decode_members(s) for s in read_shard(url, None, size)]
                    except CorruptShardError as e:
                        problems.append(str(e))
                        continue
                    except MemberError as e:
                        problems.append(f"{name}: {e}")
                        continue
                    for s in samples:
                        i = s.get(META, {}).get("index")
                        x = s.get(SKELETON)
                        seen.append(i)
                        if not isinstance(i, int) or not (0 <= i < len(keys)) or s["__key__"] != keys[i] \
                                or s.get(LABEL) != labels[i] or x is None or not np.array_equal(x, ready[i]):
                            problems.append(f"{name}: sample {s['__key__']} differs from "
                                            f"manifest/h5 row {i}")
                if sorted(seen, key=str) != sorted(expected_rows, key=str):
                    problems.append(f"{where}: shards do not hold exactly the split's samples")
    return problems


def verify_dataset(location: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> list:
    """All problems found in the dataset at ``location`` (empty list = valid).

    Remote datasets are downloaded to the cache first (every file must be read anyway).
    """
    try:
        ds = open_dataset(location, cache_dir)
        root, info = ds.local_copy(), ds.info
        local = ds if ds.is_local else open_dataset(root)
    except (OSError, ValueError) as e:
        return [f"{location}: cannot open ({e})"]
    problems = check_files(root, info)
    try:
        table = read_manifest(root / "manifest.parquet")
    except Exception as e:  # unreadable Parquet: nothing below can be checked
        return problems + [f"manifest.parquet: unreadable ({type(e).__name__}: {e})"]
    checks = [("manifest.parquet", lambda: check_manifest(table, info)),
              ("skeletons.h5", lambda: check_skeletons(root, table, info)),
              ("shards", lambda: check_shards(local, table))]
    if "videos.h5" in info.get("files", {}):
        checks.append(("videos.h5", lambda: check_videos(root, table)))
    checks.append(("fingerprint", lambda: [] if compute_fingerprint(root) == info.get("fingerprint")
                   else ["fingerprint: recomputed value differs from dataset.json"]))
    for name, check in checks:
        try:
            problems += check()
        except Exception as e:  # a corrupt file (or dataset.json) is a finding; the other checks still run
            problems.append(f"{name}: cannot check ({type(e).__name__}: {e})")
    return problems
