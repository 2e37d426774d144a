"""``prepare`` input hygiene: damaged archives, changed raw files, empty splits, concurrent runs, size caps."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from actclr.cli.data import cli
from actclr.pipelines.errors import ParseError
from actclr.pipelines.lock import output_lock
from actclr.pipelines.prepare import PrepareError, PrepareInterrupted, PrepareOptions, prepare_dataset
from actclr.pipelines.sources import RawFile
from actclr.store import verify_dataset

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ntu"
NAME = "S001C001P001R001A001.skeleton"


def _prepare(raw, out, **kwargs):
    return prepare_dataset(PrepareOptions(dataset="ntu60", raw=(str(raw),), out=Path(out), workers=1, **kwargs))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def raw(tmp_path):
    """Five camera-1, subject-1 fixture files: the x-view training and x-sub test splits are empty."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for path in sorted(FIXTURES.glob("S001C001P001R001A00*.skeleton")):
        shutil.copy(path, folder / path.name)
    return folder


def test_empty_splits_are_valid(raw, tmp_path):
    result = _prepare(raw, tmp_path / "out")
    assert result.info["counts"]["xview"]["train"] == 0 and result.info["counts"]["xsub"]["test"] == 0
    index = json.loads((tmp_path / "out" / "shards" / "xview" / "train.json").read_text())
    assert index["shards"] == []
    assert verify_dataset(tmp_path / "out") == []


def test_a_truncated_zip_is_a_bad_input(raw, tmp_path):
    archive = tmp_path / "more.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(FIXTURES / "S002C001P003R001A003.skeleton", "S002C001P003R001A003.skeleton")
    archive.write_bytes(archive.read_bytes()[:-30])                   # the end of the central directory is gone
    shutil.copy(archive, raw / "more.zip")
    result = run("prepare", "ntu60", "--raw", raw, "--out", tmp_path / "out", "--workers", 1)
    assert result.exit_code == 1
    assert "more.zip" in result.output and "cannot read zip archive" in result.output
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert [(b["file"], b["line"]) for b in info["bad"]] == [(str(raw / "more.zip"), None)]
    assert info["num_samples"] == 5
    result = run("prepare", "ntu60", "--raw", raw, "--out", tmp_path / "out", "--workers", 1, "--skip-bad")
    assert result.exit_code == 0, result.output
    alone = run("prepare", "ntu60", "--raw", archive, "--out", tmp_path / "alone", "--workers", 1)
    assert alone.exit_code == 1
    assert f"{archive}: cannot read zip archive" in alone.output.replace("\n", "")


def _edit_in_place(path: Path) -> None:
    """Change one digit of the file, keeping its size and its mtime."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    line5 = [i for i, c in enumerate(data) if c == ord("\n")][3] + 1   # first joint: x y z ...
    at = data.index(b".", line5) + 2                                    # second decimal of x
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_a_raw_file_changed_in_place_is_noticed(raw, tmp_path):
    out = tmp_path / "out"
    first = _prepare(raw, out)
    assert _prepare(raw, out).reused
    _edit_in_place(raw / NAME)
    with pytest.raises(PrepareError, match="other settings or raw files; use --overwrite"):
        _prepare(raw, out)
    rebuilt = _prepare(raw, out, overwrite=True)
    assert not rebuilt.reused and rebuilt.info["fingerprint"] != first.info["fingerprint"]
    assert rebuilt.info["source"]["digest"] != first.info["source"]["digest"]


def test_resume_notices_a_changed_raw_file(raw, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(PrepareInterrupted):
        prepare_dataset(PrepareOptions("ntu60", (str(raw),), out, workers=1, chunk_size=2), _stop_after_chunks=2)
    _edit_in_place(raw / NAME)                                        # in the first (finished) chunk
    from test_prepare import Recorder

    recorder = Recorder()
    resumed = prepare_dataset(PrepareOptions("ntu60", (str(raw),), out, workers=1, chunk_size=2), recorder)
    # the changed chunk and every chunk after it (they continue its HDF5 chunks) are converted again
    assert not any(m.startswith("resuming") for _, m in recorder.messages)
    fresh = _prepare(raw, tmp_path / "fresh", chunk_size=2)
    assert resumed.info["fingerprint"] == fresh.info["fingerprint"]


def test_a_second_concurrent_prepare_is_refused_with_the_holders_pid(raw, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom actclr.pipelines.lock import output_lock\n"
         "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(60)\n", str(out)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run("prepare", "ntu60", "--raw", raw, "--out", out, "--workers", 1)
        assert result.exit_code == 1
        assert f"is being prepared by another process (pid {holder.pid})" in result.output.replace("\n", "")
        assert not (out / "dataset.json").exists()
    finally:
        holder.kill()
        holder.wait()
    (out / ".lock").write_text(f"{holder.pid}\n")                      # stale: its holder is dead
    assert run("prepare", "ntu60", "--raw", raw, "--out", out, "--workers", 1).exit_code == 0
    assert (out / ".lock").read_text() == f"{os.getpid()}\n"


def test_the_lock_is_exclusive_within_a_process_too(tmp_path):
    from actclr.pipelines.lock import OutputLocked

    with output_lock(tmp_path), pytest.raises(OutputLocked, match=f"pid {os.getpid()}"), output_lock(tmp_path):
        pass
    with output_lock(tmp_path):
        pass


def _bomb(path: Path, size: int, declared: int | None = None) -> RawFile:
    """A zip holding one NTU-named member of ``size`` zero bytes (deflated to almost nothing);
    ``declared`` rewrites the uncompressed size recorded in the archive (a lie)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(NAME, b"0" * size)
    if declared is not None:
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(NAME)
        struct.pack_into("<I", data, info.header_offset + 22, declared)          # local header
        central = data.rindex(b"PK\x01\x02")
        struct.pack_into("<I", data, central + 24, declared)                     # central directory
        path.write_bytes(bytes(data))
    return RawFile(NAME, str(path), NAME)


def test_a_member_over_the_cap_is_refused_without_inflating_it(tmp_path):
    cap = 1 << 20
    big = _bomb(tmp_path / "bomb.zip", 80 << 20)
    assert (tmp_path / "bomb.zip").stat().st_size < 200_000
    lying = _bomb(tmp_path / "liar.zip", 8 << 20, declared=1000)    # declares 1000 bytes, inflates to 8 MiB
    tracemalloc.start()
    with pytest.raises(ParseError, match="83886080 bytes uncompressed .* more than the 1 MiB cap"):
        big.read_bytes(cap)
    with pytest.raises(ParseError, match="damaged zip member"):
        lying.read_bytes(cap)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * cap
    plain = tmp_path / "plain" / NAME
    plain.parent.mkdir()
    plain.write_bytes(b"0" * (cap + 1))
    with pytest.raises(ParseError, match="more than the 1 MiB cap"):
        RawFile(NAME, str(plain.parent), NAME).read_bytes(cap)


def test_prepare_lists_an_oversized_member_as_bad(raw, tmp_path):
    _bomb(raw / "bomb.zip", 2 << 20)
    (raw / NAME).unlink()                                             # the zip's member replaces it
    result = run("prepare", "ntu60", "--raw", raw, "--out", tmp_path / "out", "--workers", 1, "--max-file-mb", 1)
    assert result.exit_code == 1
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert [b["file"] for b in info["bad"]] == [f"{raw / 'bomb.zip'}/{NAME}"]
    assert "more than the 1 MiB cap" in info["bad"][0]["reason"]
