"""``prepare`` with 1, 2 and 3 workers, killed and resumed, read back by plain webdataset and by the
loader, and never importing torch (issue 12: the workers produce the final bytes)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from test_prepare import FIXTURES, Recorder, read_split_with_webdataset

from actclr.pipelines.prepare import RAW_DIGESTS, PrepareInterrupted, PrepareOptions, prepare_dataset
from actclr.store import verify_dataset
from actclr.store.checksums import sha256_file
from actclr.store.partial import PARTIAL_DIR, chunk_config, load_chunk
from actclr.synth import generate

CHUNK = 3


def _prepare(raw, out, reporter=None, **kwargs):
    return prepare_dataset(PrepareOptions("ntu60", (str(raw),), Path(out), chunk_size=CHUNK, **kwargs), reporter)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Synthetic NTU60 files plus an empty and a truncated one (so manifest rows and files differ)."""
    raw = tmp_path_factory.mktemp("raw")
    generate(raw, "ntu60", classes=8, per_class=4, seed=2)
    folder = raw / "nturgb+d_skeletons"
    (folder / "S001C002P001R001A003.skeleton").write_text("0\n")
    good = (FIXTURES / "ntu" / "S001C001P001R001A001.skeleton").read_text().splitlines(keepends=True)
    (folder / "S001C002P002R001A004.skeleton").write_text("".join(good[:300]))
    return raw


@pytest.fixture(scope="module")
def runs(raw, tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    return {workers: _prepare(raw, root / f"w{workers}", workers=workers) for workers in (1, 2, 3)}


def test_same_bytes_whatever_the_worker_count(runs):
    one = runs[1].info
    assert one["bad"] and one["skipped"] and one["num_samples"] == 32
    for workers in (2, 3):
        info = runs[workers].info
        assert info["fingerprint"] == one["fingerprint"]
        assert info["files"] == one["files"]          # every file byte-identical: HDF5, shards, manifest
    assert verify_dataset(runs[3].out) == []


def test_gzip_level_changes_only_the_hdf5_bytes(raw, runs, tmp_path, monkeypatch):
    """Another deflate level (``store.chunks.GZIP_LEVEL``) leaves the fingerprint, the shards and the
    manifest as they are: only ``skeletons.h5``'s bytes (and checksum) differ, and it reads the same."""
    import actclr.store.chunks as chunks

    monkeypatch.setattr(chunks, "GZIP_LEVEL", 6)
    other = _prepare(raw, tmp_path / "level6", workers=1).info
    one = runs[1].info
    assert other["fingerprint"] == one["fingerprint"]
    differ = {name for name in one["files"] if other["files"][name] != one["files"][name]}
    assert differ == {"skeletons.h5"} and set(other["files"]) == set(one["files"])
    with h5py.File(runs[1].out / "skeletons.h5") as a, h5py.File(tmp_path / "level6" / "skeletons.h5") as b:
        assert np.array_equal(a["ready"][:], b["ready"][:])
        assert np.array_equal(a["raw/frames"][:], b["raw/frames"][:])


def _old_source_digest(raw: Path) -> str:
    """``source.digest`` as it was computed before the workers hashed the raw files: sha256 of the
    JSON list of ``[name, size, sha256]`` of every raw file, in key order."""
    files = sorted(p for p in raw.rglob("*.skeleton"))
    signatures = [[p.name, p.stat().st_size, sha256_file(p)] for p in files]
    return hashlib.sha256(json.dumps(signatures, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_workers_hash_the_raw_files_they_read(raw, runs, tmp_path):
    """The digests the workers take from the bytes they parse are the files' sha256: in a chunk's
    books, in the memo, and in ``source.digest`` (the same as before the workers hashed)."""
    out = tmp_path / "stopped"
    with pytest.raises(PrepareInterrupted):
        prepare_dataset(PrepareOptions("ntu60", (str(raw),), out, workers=1, chunk_size=CHUNK), _stop_after_chunks=2)
    books = [load_chunk(out, k, chunk_config(out, k)) for k in range(2)]
    hashed = {location: digest for chunk in books for location, digest in chunk.digests.items()}
    assert len(hashed) == 2 * CHUNK and not (out / RAW_DIGESTS).exists()
    assert all(sha256_file(location) == digest for location, digest in hashed.items())
    memo = json.loads((runs[2].out / RAW_DIGESTS).read_text())
    files = sorted(raw.rglob("*.skeleton"))
    assert sorted(memo) == sorted(os.path.abspath(p) for p in files)
    assert all(memo[os.path.abspath(p)][-1] == sha256_file(p) for p in files)
    assert runs[1].info["source"]["digest"] == _old_source_digest(raw)


def test_remembered_digests_give_the_same_dataset(raw, runs, tmp_path, monkeypatch):
    """With every digest remembered the conversion hashes nothing, and the dataset is the same; a
    second run finds it complete."""
    import actclr.pipelines.convert as convert

    out = tmp_path / "remembered"
    out.mkdir()
    shutil.copy(runs[1].out / RAW_DIGESTS, out / RAW_DIGESTS)
    monkeypatch.setattr(convert, "hashlib", None)      # any hashing while converting would fail
    done = _prepare(raw, out, workers=1)
    for name in ("source", "config", "fingerprint", "files"):
        assert done.info[name] == runs[1].info[name]
    assert not (out / PARTIAL_DIR).exists()
    assert _prepare(raw, out, workers=2).reused


def _ready_rows(out: Path) -> tuple[list, np.ndarray]:
    with h5py.File(out / "skeletons.h5") as f:
        return list(f["keys"].asstr()[()]), f["ready"][()]


def test_shards_read_by_plain_webdataset_and_by_the_loader(runs):
    from actclr.data import ShardStream

    out = runs[2].out
    keys, ready = _ready_rows(out)
    table = pq.read_table(out / "manifest.parquet")
    for benchmark in ("xsub", "xview"):
        for split in ("train", "test"):
            expected = [k for k, s in zip(keys, table.column(benchmark).to_pylist()) if s == split]
            plain = read_split_with_webdataset(out, benchmark, split)
            assert sorted(plain) == expected
            for key, (x, _, meta) in plain.items():
                assert np.array_equal(x, ready[keys.index(key)]) and meta["index"] == keys.index(key)
            stream = ShardStream.from_dataset_dir(out, benchmark, split, 4, shuffle=False, drop_last=False,
                                                  rank=0, world_size=1)
            seen = []
            for x, _, batch_keys in stream:
                for key, tensor in zip(batch_keys, x.numpy()):
                    assert np.array_equal(tensor, ready[keys.index(key)])
                seen += batch_keys
            assert sorted(seen) == expected


_RUN = """
import sys
from pathlib import Path
from actclr.pipelines.prepare import PrepareOptions, prepare_dataset
if __name__ == "__main__":
    prepare_dataset(PrepareOptions("ntu60", (sys.argv[1],), Path(sys.argv[2]), workers=2, chunk_size={chunk}))
"""


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_prepare_resumes_to_the_same_bytes(raw, runs, tmp_path):
    """SIGKILL the main process mid-conversion: its workers leave by themselves, and the rerun
    reuses the finished chunks and writes the same bytes as an uninterrupted run."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _RUN.format(chunk=CHUNK), str(raw), str(out)],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / ".partial").glob("chunk-??????.npz"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "prepare ended before it could be interrupted"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 20
        while _alive(proc.pid) and time.monotonic() < deadline:     # the pool's processes leave too
            time.sleep(0.05)
        assert not _alive(proc.pid), "worker processes outlived the killed prepare"
    finally:
        if _alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "dataset.json").exists()
    recorder = Recorder()
    resumed = _prepare(raw, out, workers=2, reporter=recorder)
    assert any(m.startswith("resuming: ") for _, m in recorder.messages)
    assert resumed.info["fingerprint"] == runs[1].info["fingerprint"]
    assert resumed.info["files"] == runs[1].info["files"]
    assert not (out / ".partial").exists()


def test_prepare_imports_no_torch_in_any_process(raw, tmp_path):
    """The CLI with 2 workers, with a ``torch`` on the path that fails when imported: the run
    succeeds (no process imported it) and the main process's ``sys.modules`` holds no torch."""
    stub = tmp_path / "stub"
    (stub / "torch").mkdir(parents=True)
    (stub / "torch" / "__init__.py").write_text("raise ImportError('torch imported by prepare')\n")
    script = ("import sys\nfrom actclr.cli.data.prepare import prepare\n"
              "if __name__ == '__main__':\n"
              "    try:\n        prepare.main(sys.argv[1:], standalone_mode=False)\n"
              "    finally:\n"
              "        print('MODULES', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'webdataset'}))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, "ntu60", "--raw", str(raw), "--out", str(tmp_path / "out"),
                           "--workers", "2", "--skip-bad"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MODULES []" in done.stdout
    assert (tmp_path / "out" / "dataset.json").is_file()
    shutil.rmtree(tmp_path / "out")
