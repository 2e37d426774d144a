"""Sharing a prepared dataset through any store: fsspec URLs (``memory://``, a local http server),
``pull`` and ``publish``. Nothing reaches the network: http is served on 127.0.0.1."""
from __future__ import annotations

import json
import shutil
import uuid

import fsspec
import pytest
from click.testing import CliRunner
from http_server import serve
from test_untrusted import SHARD, flip_byte, stream_all

from actclr.cli.data import cli
from actclr.data import CorruptShardError
from actclr.store import open_dataset, verify_dataset
from actclr.store.streams import MissingExtraError, filesystem


@pytest.fixture
def memory_url():
    """A fresh ``memory://`` folder URL, removed after the test."""
    name = f"/actclr-test-{uuid.uuid4().hex}"
    yield f"memory://{name}"
    memory = fsspec.filesystem("memory")
    if memory.exists(name):
        memory.rm(name, recursive=True)


def upload(directory, url: str) -> None:
    """Copy ``directory`` to ``url`` with plain fsspec (what a team's own tools would do)."""
    fs, root = filesystem(url)
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(directory).as_posix()}", path.read_bytes())


def test_a_dataset_in_memory_is_read_verified_and_streamed(synth_dataset, memory_url, tmp_path):
    upload(synth_dataset, memory_url)
    ds = open_dataset(memory_url, cache_dir=tmp_path / "cache")
    assert ds.info == json.loads((synth_dataset / "dataset.json").read_text())
    assert ds.file_size(SHARD) == (synth_dataset / SHARD).stat().st_size
    assert ds.h5_path.read_bytes() == (synth_dataset / "skeletons.h5").read_bytes()
    assert verify_dataset(memory_url, cache_dir=tmp_path / "cache") == []
    assert stream_all(memory_url) == stream_all(synth_dataset)


def test_a_flipped_byte_in_a_stored_shard_stops_training(synth_dataset, memory_url, tmp_path):
    copy = shutil.copytree(synth_dataset, tmp_path / "ds")
    flip_byte(copy / SHARD)
    upload(copy, memory_url)
    with pytest.raises(CorruptShardError, match=f"shard {memory_url}/{SHARD}: sha256 differs from dataset.json"):
        stream_all(memory_url)
    assert f"{SHARD}: sha256 differs from dataset.json (file modified or corrupted)" in verify_dataset(
        memory_url, cache_dir=tmp_path / "cache")


def test_a_missing_protocol_package_names_the_extra():
    try:
        import s3fs  # noqa: F401
        pytest.skip("s3fs is installed")
    except ImportError:
        pass
    expected = (r"s3://bucket/ds/dataset.json: s3:// URLs need s3fs, which is not installed "
                r"\(pip install 'actclr\[s3\]'\)")
    with pytest.raises(MissingExtraError, match=expected):
        open_dataset("s3://bucket/ds")
    result = CliRunner().invoke(cli, ["info", "s3://bucket/ds"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == ["Error: cannot open s3://bucket/ds: s3://bucket/ds/dataset.json: s3:// URLs need s3fs, "
                     "which is not installed (pip install 'actclr[s3]')"], result.stderr


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unsupported location scheme 'pipe'.*installed fsspec protocol"):
        open_dataset("pipe:cat x")


def test_info_over_http_and_memory(synth_dataset, memory_url):
    upload(synth_dataset, memory_url)
    with serve(synth_dataset) as base:
        for location in (base, memory_url):
            result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["info", location])
            assert result.exit_code == 0, result.output
            assert json.loads((synth_dataset / "dataset.json").read_text())["fingerprint"] in result.output
