"""End-to-end tests of ``prepare`` on the real NTU fixtures and on synthetic NTU / PKU-MMD trees."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from http_server import serve

from actclr.pipelines.prepare import PrepareError, PrepareInterrupted, PrepareOptions, Reporter, prepare_dataset
from actclr.store import compute_fingerprint, verify_dataset
from actclr.synth import generate

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
#: Frames and distinct bodies of the fixture files (fixtures/SOURCES.md).
FIXTURE_FACTS = {"S001C001P001R001A001": (103, 1), "S001C001P001R001A002": (158, 1),
                 "S001C001P001R001A003": (104, 1), "S001C001P001R001A004": (99, 1),
                 "S001C001P001R001A005": (54, 1), "S001C001P001R001A011": (82, 1),
                 "S001C003P008R002A058": (70, 2), "S002C001P003R001A003": (100, 1),
                 "S003C001P015R001A034": (71, 1), "S004C002P003R001A017": (124, 1)}


class Recorder(Reporter):
    """Keeps every message, for assertions."""

    def __init__(self):
        self.messages = []

    def info(self, message):
        self.messages.append(("info", message))

    def warn(self, message):
        self.messages.append(("warn", message))


def _prepare(raw, out, dataset="ntu60", reporter=None, stop=None, **kwargs):
    options = PrepareOptions(dataset=dataset, raw=(str(raw),), out=Path(out), **{"workers": 1, **kwargs})
    return prepare_dataset(options, reporter, _stop_after_chunks=stop)


def read_split_with_webdataset(out: Path, benchmark: str, split: str) -> dict:
    """``{key: (tensor, cls, json)}`` of a split read with plain webdataset (no actclr code)."""
    index = json.loads((out / "shards" / benchmark / f"{split}.json").read_text())
    samples = {}
    for shard in index["shards"]:
        url = str(out / "shards" / benchmark / shard["url"])
        got = list(wds.WebDataset(url, shardshuffle=False, empty_check=False).decode())
        assert len(got) == shard["num_samples"]
        samples.update({s["__key__"]: (s["skeleton.npy"], s["cls"], s["json"]) for s in got})
    assert len(samples) == index["num_samples"]
    return samples


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw") / "ntu"
    shutil.copytree(FIXTURES / "ntu", raw)
    out = tmp_path_factory.mktemp("prepared") / "ntu60"
    return raw, out, _prepare(raw, out, chunk_size=3)


@pytest.fixture(scope="module")
def synth_raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("synth")
    generate(raw, "ntu60", classes=6, per_class=4, seed=0)
    return raw


@pytest.fixture(scope="module")
def synth_run(synth_raw, tmp_path_factory):
    """Prepared with a 2-process pool (the other runs of this raw tree use 1 worker)."""
    out = tmp_path_factory.mktemp("prepared") / "synth"
    return out, _prepare(synth_raw, out, workers=2, chunk_size=4)


def test_manifest_follows_official_rules(fixture_run):
    _, out, result = fixture_run
    table = pq.read_table(out / "manifest.parquet")
    assert table.column_names == ["key", "label", "subject", "camera", "setup", "replication", "video", "start",
                                  "end", "frames", "bodies", "xsub", "xview"]
    rows = table.to_pylist()
    assert [r["key"] for r in rows] == sorted(FIXTURE_FACTS)
    rules = json.loads((FIXTURES / "lists" / "ntu_splits.json").read_text())["ntu60"]
    for r in rows:
        k = r["key"]
        assert (r["setup"], r["camera"], r["subject"], r["replication"], r["label"]) == \
               (int(k[1:4]), int(k[5:8]), int(k[9:12]), int(k[13:16]), int(k[17:20]) - 1)
        assert (r["frames"], r["bodies"]) == FIXTURE_FACTS[k]
        assert r["xsub"] == ("train" if r["subject"] in rules["xsub"]["train_performers"] else "test")
        assert r["xview"] == ("train" if r["camera"] in rules["xview"]["train_cameras"] else "test")
        assert r["video"] is None and r["start"] is None
    assert result.info["counts"] == {"xsub": {"train": 8, "test": 2}, "xview": {"train": 2, "test": 8}}
    meta = json.loads(table.schema.metadata[b"actclr"])
    assert meta["dataset"] == "ntu60" and meta["profile"]["name"] == "stgcn50"


def test_hdf5_holds_raw_sequences_ready_and_average(fixture_run):
    _, out, _ = fixture_run
    table = pq.read_table(out / "manifest.parquet")
    with h5py.File(out / "skeletons.h5") as f:
        offsets = f["raw/offsets"][()]
        assert np.diff(offsets).tolist() == table.column("frames").to_pylist()   # stgcn50 keeps raw length
        assert f["ready"].shape == (10, 3, 50, 25, 2)
        assert f["labels"][()].tolist() == table.column("label").to_pylist()
        ready = f["ready"][()]
        for benchmark in ("xsub", "xview"):
            train = np.array(table.column(benchmark).to_pylist()) == "train"
            expected = ready[train].astype(np.float64).mean(axis=0)
            stored = f[f"average_motion/{benchmark}"][()]
            np.testing.assert_allclose(stored, expected, rtol=1e-6, atol=1e-7)
            assert np.array_equal(np.load(out / "average_motion" / f"{benchmark}.npy"), stored)


def test_shards_equal_manifest_splits_and_h5(fixture_run):
    _, out, _ = fixture_run
    table = pq.read_table(out / "manifest.parquet")
    keys = table.column("key").to_pylist()
    with h5py.File(out / "skeletons.h5") as f:
        ready = f["ready"][()]
    for benchmark in ("xsub", "xview"):
        for split in ("train", "test"):
            expected = {k for k, s in zip(keys, table.column(benchmark).to_pylist()) if s == split}
            samples = read_split_with_webdataset(out, benchmark, split)
            assert set(samples) == expected
            for key, (x, cls, meta) in samples.items():
                i = keys.index(key)
                assert meta["index"] == i and cls == table.column("label")[i].as_py()
                assert x.dtype == np.float32 and np.array_equal(x, ready[i])


def test_dataset_json_is_consistent(fixture_run):
    _, out, result = fixture_run
    info = json.loads((out / "dataset.json").read_text())
    assert info == result.info
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    hidden = [".lock", ".raw-digests.json"]  # the output lock and the raw digests memo: not part of the dataset
    assert sorted(info["files"]) == [f for f in files if f not in ("dataset.json", *hidden)]
    assert all(f in files for f in hidden)
    for rel, digest in info["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    assert info["fingerprint"] == compute_fingerprint(out)
    assert info["num_samples"] == 10 and info["bad"] == [] and info["skipped"] == []
    assert sum(info["per_class"]["xsub"]["train"]) == 8 and info["per_class"]["xsub"]["test"][2] == 1
    assert info["missing"]["found"] == 10 and 5 in info["missing"]["absent_setups"]
    assert not (out / ".partial").exists()


def test_verify_on_moved_copy_then_corruption(fixture_run, tmp_path):
    _, out, _ = fixture_run
    copy = tmp_path / "moved"
    shutil.copytree(out, copy)
    assert verify_dataset(copy) == []
    shard = copy / "shards" / "xsub" / "train-000000.tar"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = verify_dataset(copy)
    assert any("shards/xsub/train-000000.tar: sha256 differs" in p for p in problems)
    (copy / "stray.txt").write_text("x")
    assert any("stray.txt: present but not listed" in p for p in verify_dataset(copy))
    h5 = copy / "skeletons.h5"
    h5.write_bytes(h5.read_bytes()[:4096])                # truncated: reported, not a crash
    problems = verify_dataset(copy)
    assert any(p.startswith("skeletons.h5: cannot check") for p in problems)
    assert any(p.startswith("fingerprint: cannot check") for p in problems)


def test_verify_over_http_downloads_and_checks(fixture_run, tmp_path):
    _, out, result = fixture_run
    with serve(out) as url:
        assert verify_dataset(url, cache_dir=tmp_path / "cache") == []
    cached = tmp_path / "cache" / "datasets" / result.info["fingerprint"]
    assert sorted(p.relative_to(cached).as_posix() for p in cached.rglob("*") if p.is_file()) == \
        sorted([*result.info["files"], "dataset.json"])


def test_rerun_is_a_noop_and_other_settings_need_overwrite(fixture_run, tmp_path):
    raw, _, first = fixture_run
    out = tmp_path / "again"
    shutil.copytree(first.out, out)
    (out / ".partial").mkdir()                            # as if a run died right after dataset.json
    recorder = Recorder()
    again = _prepare(raw, out, reporter=recorder, chunk_size=3)
    assert again.reused and again.info == first.info and not (out / ".partial").exists()
    assert any("nothing to do" in m for _, m in recorder.messages)
    with pytest.raises(PrepareError, match="--overwrite"):
        _prepare(raw, out, shard_seed=5, chunk_size=3)
    assert (out / "dataset.json").exists()                # refused: nothing touched
    replaced = _prepare(raw, out, shard_seed=5, overwrite=True)
    assert replaced.info["shard_seed"] == 5 and replaced.info["fingerprint"] == first.info["fingerprint"]
    assert verify_dataset(out) == []
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PrepareError, match="not empty"):
        _prepare(raw, foreign)


def test_synthetic_run_with_pool(synth_run, synth_raw):
    out, result = synth_run
    truth = json.loads((synth_raw / "ground_truth.json").read_text())
    assert result.info["num_samples"] == 24
    assert [s["reason"].split(": ", 1)[1] for s in result.info["skipped"]] == ["no skeleton (0 frames)"] * len(
        truth["empty_files"])
    assert result.info["per_class"]["xsub"]["train"][:6] != [0] * 6
    assert verify_dataset(out) == []


def test_zip_archive_input_gives_the_same_dataset(synth_run, tmp_path):
    generate(tmp_path / "zipped", "ntu60", classes=6, per_class=4, seed=0, archives=True)
    assert list((tmp_path / "zipped").glob("*.zip"))
    result = _prepare(tmp_path / "zipped", tmp_path / "out", chunk_size=4)
    assert result.info["fingerprint"] == synth_run[1].info["fingerprint"]
    assert ".zip/" in result.info["skipped"][0]["file"]


def test_interrupted_prepare_resumes_to_identical_result(synth_run, synth_raw, tmp_path):
    reference = synth_run[1].info
    out = tmp_path / "resumed"
    with pytest.raises(PrepareInterrupted):
        _prepare(synth_raw, out, chunk_size=4, stop=2)
    assert not (out / "dataset.json").exists() and not (out / "skeletons.h5").exists()
    assert len(list((out / ".partial").glob("chunk-*.npz"))) == 2
    recorder = Recorder()
    resumed = _prepare(synth_raw, out, reporter=recorder, chunk_size=4)
    assert ("info", "resuming: 2 of 7 chunks reused from .partial/") in recorder.messages
    assert resumed.info["fingerprint"] == reference["fingerprint"]      # 1 worker vs the pool's 2
    assert resumed.info["files"] == reference["files"]                  # byte-identical files, shards included
    assert not (out / ".partial").exists()


def test_chunks_of_other_settings_are_not_reused(synth_run, synth_raw, tmp_path):
    out = tmp_path / "changed"
    with pytest.raises(PrepareInterrupted):
        _prepare(synth_raw, out, chunk_size=4, profile_params={"rotation": "none"}, stop=3)
    recorder = Recorder()
    result = _prepare(synth_raw, out, reporter=recorder, chunk_size=4)
    assert not any(m.startswith("resuming") for _, m in recorder.messages)
    assert result.info["fingerprint"] == synth_run[1].info["fingerprint"]


def _lines(path: Path) -> list:
    return path.read_text().splitlines(keepends=True)


def test_bad_and_empty_files(synth_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(synth_raw, raw)
    good = _lines(FIXTURES / "ntu" / "S001C001P001R001A001.skeleton")
    (raw / "S005C001P001R001A001.skeleton").write_text("".join(good[:1000]))          # truncated
    bad = list(good)
    bad[9] = "abc " + bad[9].split(" ", 1)[1]
    (raw / "S005C001P001R001A002.skeleton").write_text("".join(bad))                  # non-numeric, line 10
    bad = list(good)
    bad[19] = "nan " + bad[19].split(" ", 1)[1]
    (raw / "S005C001P001R001A003.skeleton").write_text("".join(bad))                  # NaN, line 20
    (raw / "S005C001P001R001A004.skeleton").write_text("0\n")                         # 0 frames
    result = _prepare(raw, tmp_path / "out")
    info = result.info
    by_name = {Path(b["file"]).name: b for b in info["bad"]}
    assert sorted(by_name) == [f"S005C001P001R001A00{i}.skeleton" for i in (1, 2, 3)]
    assert by_name["S005C001P001R001A002.skeleton"]["line"] == 10
    assert "not a number" in by_name["S005C001P001R001A002.skeleton"]["reason"]
    assert by_name["S005C001P001R001A003.skeleton"]["line"] == 20
    assert "not finite" in by_name["S005C001P001R001A003.skeleton"]["reason"]
    assert "truncated" in by_name["S005C001P001R001A001.skeleton"]["reason"]
    assert info["num_samples"] == 24                     # every good file still processed
    assert any(s["file"].endswith("S005C001P001R001A004.skeleton") and "0 frames" in s["reason"]
               for s in info["skipped"])
    assert verify_dataset(result.out) == []


@pytest.mark.parametrize("dataset", ["pkummd1", "pkummd2"])
def test_pkummd_clips_and_videos(dataset, tmp_path):
    raw = tmp_path / "raw"
    generate(raw, dataset, classes=4, per_class=3, seed=1)
    result = _prepare(raw, tmp_path / "out", dataset=dataset)
    out = result.out
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(rows) == 12 and result.info["num_samples"] == 12
    test_videos = set((Path(__file__).resolve().parents[1] / "actclr" / "resources" / "lists" /
                       f"pkummd_part{dataset[-1]}_xsub_test_videos.txt").read_text().split())
    with h5py.File(out / "videos.h5") as v, h5py.File(out / "skeletons.h5") as s:
        names = list(v["names"].asstr()[()])
        offsets, labels, frames = v["offsets"][()], v["labels"][()], v["frames"]
        covered = np.zeros(len(labels), bool)
        for i, r in enumerate(rows):
            assert r["key"] == f"{r['video']}_{int(r['key'][-3:]):03d}" and r["setup"] is None
            assert r["camera"] == "LMR".index(r["video"][-1]) + 1
            assert r["xview"] == ("test" if r["camera"] == 1 else "train")
            assert r["xsub"] == ("test" if r["video"] in test_videos else "train")
            if dataset == "pkummd1":
                assert r["subject"] is None
            else:
                assert r["subject"] == int(r["video"][4:6])
            lo = offsets[names.index(r["video"])]
            assert (labels[lo + r["start"]:lo + r["end"]] == r["label"]).all()
            covered[lo + r["start"]:lo + r["end"]] = True
            clip = s["raw/frames"][s["raw/offsets"][i]:s["raw/offsets"][i + 1]]
            assert np.array_equal(clip, frames[lo + r["start"]:lo + r["end"]])
        assert (labels[~covered] == -1).all()
    assert verify_dataset(out) == []


def test_no_raw_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="no NTU RGB"):
        _prepare(tmp_path / "empty", tmp_path / "out")
