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
from actclr.store import compute_fingerprint, open_dataset, verify_dataset
from actclr.store.errors import DatasetError
from actclr.store.streams import DigestMismatchError, MissingExtraError, filesystem
from actclr.store.transfer import publish, pull


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


# -- pull and publish ------------------------------------------------------------------------

def fingerprint_of(directory) -> str:
    return json.loads((directory / "dataset.json").read_text())["fingerprint"]


def run(args) -> str:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_publish_then_pull_through_memory_is_identical(synth_dataset, memory_url, tmp_path):
    out = run(["publish", synth_dataset, memory_url])
    assert f"to {memory_url}" in out
    out = run(["pull", memory_url, tmp_path / "copy"])
    assert "is complete" in out
    copy = tmp_path / "copy"
    assert (copy / "dataset.json").read_bytes() == (synth_dataset / "dataset.json").read_bytes()
    assert compute_fingerprint(copy) == fingerprint_of(synth_dataset)
    assert verify_dataset(copy) == []


def test_pull_over_http_is_identical_and_a_second_pull_keeps_everything(synth_dataset, tmp_path):
    with serve(synth_dataset) as base:
        first = pull(base, tmp_path / "copy", jobs=3)
        again = pull(base, tmp_path / "copy")
    listed = json.loads((synth_dataset / "dataset.json").read_text())["files"]
    assert sorted(first.copied) == sorted(listed) and first.kept == []
    assert again.copied == [] and sorted(again.kept) == sorted(listed)
    assert compute_fingerprint(tmp_path / "copy") == fingerprint_of(synth_dataset)
    assert verify_dataset(tmp_path / "copy") == []


class Interrupted(OSError):
    pass


def fail_after(monkeypatch, n: int) -> None:
    """Make pulls fail on their file ``n + 1``, leaving a partial temporary file (as a killed pull does)."""
    from actclr.store import transfer

    calls = []
    real = transfer.fetch

    def fetch(location, target, expected, on_bytes=None):
        calls.append(location)
        if len(calls) > n:
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / f".{target.name}.tmp-999999").write_bytes(b"partial")
            raise Interrupted(f"{location}: connection lost")
        real(location, target, expected, on_bytes)
    monkeypatch.setattr(transfer, "fetch", fetch)


def test_an_interrupted_pull_never_looks_complete_and_resumes(synth_dataset, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    listed = json.loads((synth_dataset / "dataset.json").read_text())["files"]
    with serve(synth_dataset) as base:
        with monkeypatch.context() as patch:
            fail_after(patch, 5)
            with pytest.raises(Interrupted, match="connection lost"):
                pull(base, copy, jobs=1)
        assert not (copy / "dataset.json").exists()
        with pytest.raises(FileNotFoundError, match="no dataset.json"):
            open_dataset(copy)
        present = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
        complete = {name for name in present if not name.split("/")[-1].startswith(".")}
        assert 5 <= len(complete) < len(listed) and present - complete  # and a partial temporary file
        resumed = pull(base, copy)
        assert complete == set(resumed.kept) and sorted(resumed.copied + resumed.kept) == sorted(listed)
        assert compute_fingerprint(copy) == fingerprint_of(synth_dataset)
        assert not [p for p in copy.rglob(".*")]  # the partial file is gone
        # a complete copy whose file then changes: the next pull takes dataset.json away first
        flip_byte(copy / SHARD)
        with monkeypatch.context() as patch:
            fail_after(patch, 0)
            with pytest.raises(Interrupted):
                pull(base, copy)
        assert not (copy / "dataset.json").exists()
        assert pull(base, copy).copied == [SHARD]
    assert verify_dataset(copy) == []


def test_a_tampered_file_on_the_source_is_refused(synth_dataset, tmp_path):
    source = shutil.copytree(synth_dataset, tmp_path / "source")
    flip_byte(source / SHARD)
    copy = tmp_path / "copy"
    with serve(source) as base:
        expected = f"{base}{SHARD} \\(download\\): sha256 differs from dataset.json"
        with pytest.raises(DigestMismatchError, match=expected):
            pull(base, copy)
        result = CliRunner().invoke(cli, ["pull", base, str(copy)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {base}{SHARD} (download): sha256 differs") and len(
        result.stderr.splitlines()) == 1
    assert not (copy / SHARD).exists() and not (copy / "dataset.json").exists()
    assert not [p for p in copy.rglob(".*")]  # no temporary file left


def test_publish_refuses_a_dataset_that_does_not_verify(synth_dataset, memory_url, tmp_path):
    source = shutil.copytree(synth_dataset, tmp_path / "source")
    flip_byte(source / SHARD)
    with pytest.raises(DatasetError, match=f"not published, verify found 1 problem.*{SHARD}: sha256 differs"):
        publish(source, memory_url)
    assert not fsspec.filesystem("memory").exists(memory_url)


def test_publish_to_a_directory_replaces_an_older_version(synth_dataset, tmp_path):
    publish(synth_dataset, tmp_path / "shared")
    flip_byte(tmp_path / "shared" / SHARD)
    assert verify_dataset(tmp_path / "shared") != []
    publish(synth_dataset, (tmp_path / "shared").as_uri())
    assert verify_dataset(tmp_path / "shared") == []


def test_pull_one_split(synth_dataset, memory_url, tmp_path):
    publish(synth_dataset, memory_url)
    result = pull(memory_url, tmp_path / "part", benchmark="xsub", split="train")
    assert all(not f.startswith("shards/") or f.startswith("shards/xsub/train") for f in result.copied)
    assert "skeletons.h5" not in result.copied and {"manifest.parquet", "README.md"} <= set(result.copied)
    assert stream_all(tmp_path / "part") == stream_all(synth_dataset)
    with pytest.raises(DatasetError, match="no benchmark 'xxx'; the dataset has xsub, xview"):
        pull(memory_url, tmp_path / "other", benchmark="xxx")


# -- the dataset card ------------------------------------------------------------------------

def card_header(directory) -> dict:
    import yaml

    text = (directory / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_prepare_writes_a_dataset_card_listed_but_outside_the_fingerprint(synth_dataset, tmp_path):
    info = json.loads((synth_dataset / "dataset.json").read_text())
    header = card_header(synth_dataset)
    assert [c["config_name"] for c in header["configs"]] == ["xsub", "xview"]
    assert header["configs"][0]["data_files"] == [{"split": "train", "path": "shards/xsub/train-*.tar"},
                                                  {"split": "test", "path": "shards/xsub/test-*.tar"}]
    assert "user's responsibility" in header["license_details"] and "actclr" in header["tags"]
    text = (synth_dataset / "README.md").read_text()
    for fact in (info["fingerprint"], info["source"]["digest"], f"actclr {info['toolkit_version']}", "stgcn50",
                 f"| xsub | {info['counts']['xsub']['train']} | {info['counts']['xsub']['test']} |"):
        assert fact in text
    inputs = info["source"]["inputs"]  # one digest per raw archive or folder
    assert len(inputs) == 1 and all(f"`{name}`: `{digest}`" in text for name, digest in inputs.items())
    assert all(len(digest) == 64 for digest in inputs.values())
    assert "README.md" in info["files"]               # checked like every file ...
    copy = shutil.copytree(synth_dataset, tmp_path / "ds")
    (copy / "README.md").write_text("edited")
    assert compute_fingerprint(copy) == info["fingerprint"]  # ... but not content
    assert verify_dataset(copy) == ["README.md: sha256 differs from dataset.json (file modified or corrupted)"]


def test_the_shards_load_with_hugging_face_datasets(synth_dataset, tmp_path, monkeypatch):
    import h5py
    import numpy as np

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    info = json.loads((synth_dataset / "dataset.json").read_text())
    copy = shutil.copytree(synth_dataset, tmp_path / "ds")  # datasets may write next to the files
    train = datasets.load_dataset(str(copy), "xsub", split="train", cache_dir=str(tmp_path / "hf"))
    assert len(train) == info["counts"]["xsub"]["train"]
    sample = train[3]
    with h5py.File(synth_dataset / "skeletons.h5", "r") as f:
        expected = f["ready"][sample["json"]["index"]]
    np.testing.assert_array_equal(np.asarray(sample["skeleton.npy"], dtype=np.float32), expected)
    assert sample["cls"] == int(f"{sample['json']['label']}")
