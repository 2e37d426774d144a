"""Unit tests of the prepared-dataset store: writers, fingerprint, chunks, reader (local + http)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pyarrow as pa
import pytest
from http_server import serve

from actclr.registry import get_dataset
from actclr.store import compute_fingerprint, open_dataset, verify_dataset
from actclr.store.atomic import atomic_path, write_json
from actclr.store.average import MeanAccumulator, averages_of
from actclr.store.checksums import checksum_tree, sha256_file
from actclr.store.chunks import GZIP_LEVEL, Layout, Piece, decode_chunk, encode_chunk
from actclr.store.hdf5 import open_h5, ragged_item, read_strings, skeleton_writer
from actclr.store.manifest import ManifestBuilder, manifest_meta, read_manifest, split_rows, write_manifest
from actclr.store.partial import (
    ChunkResult,
    chunk_config,
    chunk_path,
    data_path,
    load_chunk,
    read_ready,
    save_chunk,
    save_tail,
    tail_path,
)
from actclr.store.shards import make_sample, shard_sizes, shuffled_rows, write_shard

PROFILE = {"name": "test", "params": {"frames": 50}}


def _row(key: str, label: int, subject: int, camera: int) -> dict:
    return {"key": key, "label": label, "subject": subject, "camera": camera, "setup": 1, "replication": 1,
            "video": None, "start": None, "end": None, "frames": 3, "bodies": 1}


def _tiny_store(root, rng=None, n=6):
    """manifest.parquet + skeletons.h5 for ``n`` random ntu60 samples; returns (table, ready)."""
    rng = rng or np.random.default_rng(0)
    rows = [_row(f"S001C00{1 + i % 3}P{1 + i:03d}R001A001", i % 2, 1 + i, 1 + i % 3) for i in range(n)]
    lengths = np.arange(2, 2 + n)
    ready = rng.standard_normal((n, 3, 50, 25, 2)).astype(np.float32)
    builder = ManifestBuilder(get_dataset("ntu60"), PROFILE)
    builder.add(rows)
    table = builder.table()
    with skeleton_writer(root / "skeletons.h5", "ntu60", PROFILE, (3, 50, 25, 2)) as w:
        w.append(rng.standard_normal((lengths.sum(), 2, 25, 3)).astype(np.float32), lengths, ready,
                 [r["label"] for r in rows], [r["key"] for r in rows])
        for b, mean in averages_of(ready, {"xsub": np.ones(n, bool)}).items():
            w.set_average(b, mean)
    write_manifest(root / "manifest.parquet", table)
    return table, ready


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 130, 64 * 128, 64 * 128 + 1, 10**6])
def test_shard_sizes_balanced(n):
    sizes = shard_sizes(n)
    assert sum(sizes) == n
    assert len(sizes) == min(128, -(-n // 64))
    if sizes:
        assert max(sizes) - min(sizes) <= 1


def test_shuffled_rows_is_a_seeded_permutation():
    rows = np.arange(10, 60, 3)
    a, b = shuffled_rows(rows, 7), shuffled_rows(rows, 7)
    assert np.array_equal(a, b) and sorted(a.tolist()) == rows.tolist()
    assert not np.array_equal(a, shuffled_rows(rows, 8))


def test_mean_accumulator_does_not_depend_on_batching():
    x = np.random.default_rng(1).standard_normal((37, 3, 4, 5, 2)).astype(np.float32) * 1e3
    whole, pieces = MeanAccumulator(x.shape[1:]), MeanAccumulator(x.shape[1:])
    whole.add(x)
    for lo, hi in ((0, 5), (5, 6), (6, 30), (30, 37)):
        pieces.add(x[lo:hi])
    assert np.array_equal(whole.mean(), pieces.mean())
    np.testing.assert_allclose(whole.mean(), x.astype(np.float64).mean(axis=0), rtol=1e-6)
    mask = np.arange(37) % 3 == 0
    blocked = averages_of(x, {"m": mask}, block=4)["m"]
    assert np.array_equal(blocked, averages_of(x[mask], {"m": np.ones(13, bool)})["m"])


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"b": 1, "a": [1]})
    assert json.loads(target.read_text()) == {"a": [1], "b": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_manifest_splits_follow_registry_rules():
    ntu = ManifestBuilder(get_dataset("ntu60"), PROFILE)
    batch = ntu.add([_row("S001C001P001R001A001", 0, 1, 1), _row("S001C002P003R001A001", 0, 3, 2)])
    assert batch.column("xsub").to_pylist() == ["train", "test"]
    assert batch.column("xview").to_pylist() == ["test", "train"]
    pku = ManifestBuilder(get_dataset("pkummd1"), PROFILE)
    rows = [{**_row(f"{v}_001", 3, None, 1), "video": v, "setup": None, "replication": None}
            for v in ("0002-L", "0300-L")]
    assert pku.add(rows).column("xsub").to_pylist() == ["train", "test"]   # 0291-0334 are the xsub test videos
    table = pku.table()
    assert table.column_names[-2:] == ["xsub", "xview"]
    assert manifest_meta(table) == {"dataset": "pkummd1", "format_version": 1, "profile": PROFILE}


def test_hdf5_roundtrip_and_fingerprint_ignores_compression(tmp_path):
    table, ready = _tiny_store(tmp_path)
    assert read_manifest(tmp_path / "manifest.parquet").equals(table)
    with open_h5(tmp_path / "skeletons.h5") as f:
        assert f["ready"].chunks == (1, 3, 50, 25, 2) and f["raw/frames"].chunks == (256, 2, 25, 3)
        assert ragged_item(f["raw"], 3).shape == (5, 2, 25, 3)
        assert read_strings(f["keys"]) == table.column("key").to_pylist()
        assert np.array_equal(f["ready"][()], ready)
    before = compute_fingerprint(tmp_path)

    # Re-write skeletons.h5 with other compression and chunking: same content, same fingerprint.
    copy = tmp_path / "copy.h5"
    with h5py.File(tmp_path / "skeletons.h5") as src, h5py.File(copy, "w") as dst:
        def clone(name, obj):
            if isinstance(obj, h5py.Dataset):
                dst.create_dataset(name, data=obj[()], compression="lzf" if obj.ndim > 1 else None)
        src.visititems(clone)
    copy.replace(tmp_path / "skeletons.h5")
    assert compute_fingerprint(tmp_path) == before

    with h5py.File(tmp_path / "skeletons.h5", "a") as f:
        f["ready"][2, 0, 0, 0, 0] += 1e-3
    assert compute_fingerprint(tmp_path) != before


def test_fingerprint_covers_manifest_rows(tmp_path):
    table, _ = _tiny_store(tmp_path)
    before = compute_fingerprint(tmp_path)
    labels = table.column("label").to_pylist()
    labels[0] = 1 - labels[0]
    labels = pa.array(labels, pa.int32())
    write_manifest(tmp_path / "manifest.parquet", table.set_column(1, table.schema.field("label"), labels))
    assert compute_fingerprint(tmp_path) != before


def test_chunk_roundtrip_and_config_check(tmp_path):
    ready = np.arange(2 * 3 * 50 * 25 * 2, dtype=np.float32).reshape(2, 3, 50, 25, 2)
    pieces = {"frames": Piece(3, [b"abc", b"de"], 1000), "ready": Piece(7, [b"x", b"yz"], 9)}
    chunk = ChunkResult(config="c" * 64, ready=ready, pieces=pieces, rows=[{"key": "k1"}, {"key": "k2"}],
                        lengths=np.array([3, 4]), bad=[{"file": "f", "line": 2, "reason": "r"}])
    save_chunk(tmp_path, 0, chunk)
    assert chunk_config(tmp_path, 0) is None                      # no tail yet: not finished
    save_tail(tail_path(tmp_path, 0, chunk.config), {"frames": (1000, np.zeros((5, 2, 25, 3), np.float32))})
    assert chunk_config(tmp_path, 0) == chunk.config
    loaded = load_chunk(tmp_path, 0, chunk.config)
    assert loaded.rows == chunk.rows and loaded.bad == chunk.bad and loaded.pieces == pieces
    assert np.array_equal(loaded.ready, ready) and loaded.lengths.tolist() == [3, 4]
    assert np.array_equal(read_ready(loaded.data, 1, (3, 50, 25, 2)), ready[1])
    assert load_chunk(tmp_path, 0, "d" * 64) is None
    data = data_path(tmp_path, 0, chunk.config)
    data.write_bytes(data.read_bytes()[:-1])                      # truncated bytes: not reused
    assert load_chunk(tmp_path, 0, chunk.config) is None
    chunk_path(tmp_path, 0).write_bytes(b"not a zip")
    assert chunk_config(tmp_path, 0) is None and load_chunk(tmp_path, 0, chunk.config) is None


@pytest.mark.parametrize("dtype", ["float32", "int16", "int64"])
def test_encoded_chunks_are_what_hdf5_writes(tmp_path, dtype):
    """Chunks compressed by :mod:`actclr.store.chunks` equal HDF5's own gzip + shuffle bytes,
    stored with write_direct_chunk they read back exactly, and the cut follows global boundaries."""
    rng = np.random.default_rng(1)
    layout = Layout("d", (2, 3), dtype, 4)
    rows = (rng.standard_normal((11, 2, 3)) * 100).astype(dtype)
    with h5py.File(tmp_path / "lib.h5", "w") as f:
        f.create_dataset("d", data=rows, chunks=layout.chunk_shape, compression="gzip", compression_opts=GZIP_LEVEL,
                         shuffle=True)
    with h5py.File(tmp_path / "lib.h5") as f:
        stored = [f["d"].id.read_direct_chunk((4 * j, 0, 0))[1] for j in range(3)]
    blocks, carry = layout.cut(layout.empty(), rows[:6], last=False)        # pieces of 6 and 5 rows
    assert len(blocks) == 4 and np.array_equal(carry, rows[4:6])
    more, rest = layout.cut(carry, rows[6:], last=True)
    assert len(rest) == 0 and len(more) == 8 and np.array_equal(more[7], np.zeros((2, 3), dtype))
    assert layout.encode(np.concatenate([blocks, more])) == stored
    assert np.array_equal(decode_chunk(encode_chunk(rows[:4]), (4, 2, 3), dtype), rows[:4])


def test_stdlib_shards_equal_webdataset_tarwriter(tmp_path):
    import webdataset as wds  # the reference writer (imports torch: only here, never in prepare)

    rng = np.random.default_rng(2)
    samples = [make_sample({"key": f"S001C001P001R001A{i:03d}", "label": i, "subject": 1, "camera": None},
                           i, rng.standard_normal((3, 50, 25, 2)).astype(np.float32)) for i in range(5)]
    digest = write_shard(tmp_path / "ours.tar", samples)
    with open(tmp_path / "theirs.tar", "wb") as f, wds.TarWriter(f, user="actclr", group="actclr", mtime=0) as w:
        for sample in samples:
            w.write(sample)
    ours = (tmp_path / "ours.tar").read_bytes()
    assert ours == (tmp_path / "theirs.tar").read_bytes() and digest == sha256_file(tmp_path / "ours.tar")


def test_shard_headers_equal_tarfile():
    """The member headers made without ``tarfile`` are its bytes; long, non-ASCII names and huge
    sizes go through ``tarfile`` itself."""
    import tarfile

    from actclr.store.shards import _header

    for name in ("S001C001P001R001A001.json", "a", "x" * 99, "x" * 100, "é.npy"):
        for size in (0, 1, 123, 30128, 8 ** 11 - 1, 8 ** 11):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, 0, 0o444
            info.uname = info.gname = "actclr"
            assert _header(name, size) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), (name, size)


def test_checksum_tree_skips_hidden_and_dataset_json(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"x")
    (tmp_path / "dataset.json").write_text("{}")
    (tmp_path / ".partial").mkdir()
    (tmp_path / ".partial" / "c.npz").write_bytes(b"c")
    (tmp_path / ".y.tmp-1").write_bytes(b"t")
    assert checksum_tree(tmp_path) == {"a/x.bin": sha256_file(tmp_path / "a" / "x.bin")}


@pytest.fixture
def http_root(tmp_path):
    """``(directory, its http URL)``, served for the duration of a test."""
    site = tmp_path / "site"
    site.mkdir()
    with serve(site) as url:
        yield site, url


def test_reader_local_file_url_and_http(http_root, tmp_path):
    site, url = http_root
    table, ready = _tiny_store(site)
    (site / "average_motion").mkdir()
    np.save(site / "average_motion" / "xsub.npy", ready.mean(axis=0))
    info = {"name": "ntu60", "counts": {"xsub": {}}, "fingerprint": compute_fingerprint(site),
            "files": checksum_tree(site)}
    write_json(site / "dataset.json", info)
    for location in (site, site.as_uri(), url):
        ds = open_dataset(location, cache_dir=tmp_path / "cache")
        assert ds.info == info and ds.manifest.equals(table)
        assert ds.file_size("manifest.parquet") == (site / "manifest.parquet").stat().st_size
        np.testing.assert_array_equal(ds.average_motion("xsub"), ready.mean(axis=0))
        with open_h5(ds.h5_path) as f:
            assert np.array_equal(f["ready"][()], ready)
    assert str(open_dataset(url, cache_dir=tmp_path / "cache").h5_path).startswith(str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="no dataset.json"):
        open_dataset(tmp_path / "cache")


def test_http_download_is_checked(http_root, tmp_path):
    site, url = http_root
    _tiny_store(site)
    write_json(site / "dataset.json", {"fingerprint": "f" * 64, "counts": {},
                                       "files": {"skeletons.h5": "0" * 64}})
    with pytest.raises(ValueError, match="sha256 differs"):
        _ = open_dataset(url, cache_dir=tmp_path / "cache").h5_path


def test_verify_reports_missing_dataset_json(tmp_path):
    problems = verify_dataset(tmp_path)
    assert len(problems) == 1 and "dataset.json" in problems[0]


def test_split_rows_sorted(tmp_path):
    table, _ = _tiny_store(tmp_path, n=8)
    train = split_rows(table, "xsub", "train")
    subjects = table.column("subject").to_numpy()
    assert train.tolist() == sorted(train.tolist())
    assert set(subjects[train]) <= set(get_dataset("ntu60").benchmarks["xsub"].train)
