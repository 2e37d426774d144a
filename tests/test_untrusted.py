"""A shared dataset is untrusted input: crafted shards, names, URLs and fingerprints, corrupted bytes.

Each crafted input must be refused (an error naming the file and the offending member/name) or be
harmless; payloads that would create a marker file if executed must never create it.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tarfile

import pytest
from http_server import serve

from actclr.data import CorruptShardError, ShardStream, make_loader
from actclr.store import open_dataset, verify_dataset
from actclr.store.checksums import sha256_file
from actclr.store.paths import UnsafePathError, check_name

SHARD = "shards/xsub/train-000000.tar"
INDEX = "shards/xsub/train.json"


class _Marker:
    """Unpickling this object creates ``path`` (what a pickle in a shard could do to a reader)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payload(marker) -> bytes:
    return pickle.dumps(_Marker(marker))


def relist(root, *names) -> None:
    """Rewrite ``dataset.json``'s sha256 of ``names`` as an attacker who controls it would."""
    info = json.loads((root / "dataset.json").read_text())
    for name in names:
        info["files"][name] = sha256_file(root / name)
    (root / "dataset.json").write_text(json.dumps(info))


def edit_json(root, name, change) -> None:
    path = root / name
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def add_member(shard, name: str, data: bytes) -> None:
    """Insert the tar member ``name`` after the first sample's members."""
    with tarfile.open(shard) as tar:
        members = [(info, tar.extractfile(info).read()) for info in tar.getmembers()]
    extra = tarfile.TarInfo(name)
    extra.size = len(data)
    members.insert(3, (extra, data))
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content))


def flip_byte(path, offset: int = 2000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def stream_all(location, **kw) -> int:
    stream = ShardStream.from_dataset_dir(location, "xsub", "train", 4, drop_last=False, rank=0, world_size=1, **kw)
    return sum(len(batch.keys) for batch in make_loader(stream, "cpu"))


@pytest.fixture
def dataset(synth_dataset, tmp_path):
    """A private copy of the prepared synthetic dataset."""
    return shutil.copytree(synth_dataset, tmp_path / "ds")


def test_the_payload_is_live(tmp_path):
    """The crafted member really runs code when unpickled (so the tests below can fail)."""
    pickle.loads(payload(tmp_path / "ran"))
    assert (tmp_path / "ran").exists()


# -- 1. no code from data --------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["pyd", "pickle", "pth", "evil", "skeleton.npy.pyd", "json.pickle"])
def test_a_member_outside_the_vocabulary_is_refused_before_decoding(dataset, tmp_path, suffix):
    marker = tmp_path / "MARKER"
    name = f"S001C001P001R001A001.{suffix}"
    add_member(dataset / SHARD, name, payload(marker))
    relist(dataset, SHARD)
    with pytest.raises(CorruptShardError, match=f"shard .*train-000000.tar: member '{name}' is not one of"):
        stream_all(dataset)
    problems = verify_dataset(dataset)
    assert any("train-000000.tar" in p and repr(name) in p for p in problems), problems
    assert not marker.exists()


def test_members_without_extension_or_not_files_are_refused(dataset):
    original = (dataset / SHARD).read_bytes()
    add_member(dataset / SHARD, "payload", b"x")
    relist(dataset, SHARD)
    with pytest.raises(CorruptShardError, match="member 'payload' is not one of"):
        stream_all(dataset)
    (dataset / SHARD).write_bytes(original)
    with tarfile.open(dataset / SHARD, "a") as tar:
        link = tarfile.TarInfo("S009C001P001R001A001.cls")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    relist(dataset, SHARD)
    with pytest.raises(CorruptShardError, match="member 'S009C001P001R001A001.cls' is not a regular file"):
        stream_all(dataset)


def test_a_pickled_npy_is_refused(dataset, tmp_path):
    """An ``.npy`` member holding an object array (a pickle) is refused by the decoder."""
    import numpy as np

    marker = tmp_path / "MARKER"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Marker(marker)], dtype=object), allow_pickle=True)
    with tarfile.open(dataset / SHARD) as tar:
        first = next(m.name for m in tar.getmembers() if m.name.endswith(".skeleton.npy"))
        members = [(m, buffer.getvalue() if m.name == first else tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(dataset / SHARD, "w", format=tarfile.USTAR_FORMAT) as tar:
        for info, content in members:
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    relist(dataset, SHARD)
    with pytest.raises(CorruptShardError, match="skeleton.npy is not a valid .npy array .*pickles"):
        stream_all(dataset)
    assert any("skeleton.npy is malformed" in p and "pickles" in p for p in verify_dataset(dataset))
    assert not marker.exists()


# -- 2. no path or command from data ---------------------------------------------------------

UNSAFE_NAMES = ["/etc/passwd", "../outside", "shards/../../outside", "C:/x", "C:\\x", "shards\\..\\..\\x",
                "pipe:touch MARKER", "http://127.0.0.2/x", "file:///etc/passwd", ".hidden", "a//b", "./x", "",
                "nul\x00byte"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_the_path_rule(name):
    with pytest.raises(UnsafePathError, match="dataset.json"):
        check_name(name, "dataset.json files")


def test_safe_names_pass():
    for name in ("dataset.json", "shards/xsub/train-000000.tar", "average_motion/xsub.npy", "a b/c-d_e.tar"):
        assert check_name(name, "here") == name


BAD_URLS = ["pipe:touch {marker}; cat train-000000.tar", "/{abs}", "../xview/train-000000.tar",
            "http://127.0.0.1:9/train-000000.tar", "file://{abs}", "C:\\train-000000.tar", "sub/../../x.tar"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_crafted_shard_url_is_refused_locally_and_over_http(dataset, tmp_path, url):
    marker = tmp_path / "MARKER"
    url = url.format(marker=marker, abs=dataset / SHARD)

    def crafted(index):
        index["shards"][0]["url"] = url

    edit_json(dataset, INDEX, crafted)
    relist(dataset, INDEX)
    with pytest.raises(UnsafePathError, match="train.json: file name .* only relative paths inside the dataset"):
        ShardStream.from_dataset_dir(dataset, "xsub", "train", 4)
    assert any("train.json: file name" in p for p in verify_dataset(dataset, cache_dir=tmp_path / "cache"))
    with serve(dataset) as base:
        with pytest.raises(UnsafePathError, match="train.json: file name"):
            ShardStream.from_dataset_dir(base, "xsub", "train", 4)
        assert any("train.json: file name" in p for p in verify_dataset(base, cache_dir=tmp_path / "cache"))
    assert not marker.exists()
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if not p.is_relative_to(dataset)}
    assert written <= {"cache", "outside.tar"} and written != set()  # verify downloaded into the cache only


def test_a_redirect_to_another_host_is_refused(dataset):
    import functools
    import http.server
    import threading

    class Redirecting(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.endswith(".tar"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{self.server.server_address[1]}{self.path}")
                self.end_headers()
            else:
                super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Redirecting, directory=str(dataset)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(CorruptShardError, match="redirect to another host refused: http://localhost:"):
            stream_all(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()


def test_pipe_urls_are_refused_by_the_stream(tmp_path):
    marker = tmp_path / "MARKER"
    with pytest.raises(ValueError, match="unsupported location scheme 'pipe'"):
        ShardStream([f"pipe:touch {marker}"], 4, rank=0, world_size=1)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["/tmp/evil", "../../evil", "shards/../../../evil", "C:\\evil", ".hidden"])
def test_crafted_file_names_in_dataset_json_are_refused_locally_and_over_http(dataset, tmp_path, name):
    edit_json(dataset, "dataset.json", lambda info: info["files"].update({name: "0" * 64}))
    with pytest.raises(UnsafePathError, match=r"dataset.json files: file name"):
        open_dataset(dataset)
    cache = tmp_path / "cache"
    before = set(tmp_path.rglob("*"))
    with serve(dataset) as base:
        with pytest.raises(UnsafePathError, match=r"dataset.json files: file name"):
            open_dataset(base, cache_dir=cache)
        assert "cannot open" in verify_dataset(base, cache_dir=cache)[0]
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere, not even the cache


@pytest.mark.parametrize("fingerprint", ["../../../evil", "x", "A" * 64, "0" * 63, None, ["0" * 64]])
def test_a_crafted_fingerprint_never_names_a_cache_directory(dataset, tmp_path, fingerprint):
    edit_json(dataset, "dataset.json", lambda info: info.update(fingerprint=fingerprint))
    cache = tmp_path / "cache"
    with serve(dataset) as base:
        ds = open_dataset(base, cache_dir=cache)
        with pytest.raises(UnsafePathError, match="fingerprint"):
            _ = ds.h5_path
        assert "fingerprint" in verify_dataset(base, cache_dir=cache)[0]
    assert not cache.exists() and not (tmp_path / "evil").exists()


def test_a_crafted_benchmark_name_is_refused(dataset):
    edit_json(dataset, "dataset.json", lambda info: info["counts"].update({"../../x": {"train": 1, "test": 0}}))
    with pytest.raises(UnsafePathError, match="dataset.json counts: file name '../../x'"):
        open_dataset(dataset)


def test_a_symlink_out_of_the_dataset_is_refused(dataset, tmp_path):
    outside = tmp_path / "outside.tar"
    shutil.copy(dataset / SHARD, outside)
    (dataset / SHARD).unlink()
    os.symlink(outside, dataset / SHARD)
    with pytest.raises(UnsafePathError, match="symlink .* pointing outside the dataset"):
        ShardStream.from_dataset_dir(dataset, "xsub", "train", 4)
    assert any("pointing outside the dataset" in p for p in verify_dataset(dataset))


def test_downloads_stay_in_the_cache_directory(synth_dataset, tmp_path):
    cache = tmp_path / "cache"
    with serve(synth_dataset) as base:
        assert verify_dataset(base, cache_dir=cache) == []
    fingerprint = json.loads((synth_dataset / "dataset.json").read_text())["fingerprint"]
    assert {p.name for p in tmp_path.iterdir()} == {"cache"}
    assert {p.name for p in (cache / "datasets").iterdir()} == {fingerprint}


# -- 3. verified as it streams ---------------------------------------------------------------

def test_a_flipped_byte_in_a_local_shard_stops_training(dataset):
    total = stream_all(dataset)
    flip_byte(dataset / SHARD)
    with pytest.raises(CorruptShardError, match=f"shard {dataset / SHARD}: sha256 differs from dataset.json"):
        stream_all(dataset)
    assert stream_all(dataset, verify=False) == total  # --no-verify: the byte lands in a tensor


def test_a_flipped_byte_in_a_served_shard_stops_training(dataset):
    flip_byte(dataset / SHARD)
    with serve(dataset) as base, pytest.raises(CorruptShardError, match=f"shard {base}{SHARD}: sha256 differs"):
        stream_all(base)


def test_a_modified_index_is_refused(dataset):
    edit_json(dataset, INDEX, lambda index: index.update(shard_seed=5))
    with pytest.raises(ValueError, match="train.json: sha256 differs from dataset.json"):
        ShardStream.from_dataset_dir(dataset, "xsub", "train", 4)


def test_a_changed_served_file_is_noticed_with_a_warm_cache(dataset, tmp_path):
    cache = tmp_path / "cache"
    with serve(dataset) as base:
        assert verify_dataset(base, cache_dir=cache) == []          # warms the cache
        h5 = open_dataset(base, cache_dir=cache).h5_path
        original = h5.read_bytes()
        flip_byte(dataset / SHARD)
        flip_byte(dataset / "skeletons.h5", offset=len(original) // 2)
        problems = verify_dataset(base, cache_dir=cache)
        assert f"{SHARD}: sha256 differs from dataset.json (file modified or corrupted)" in problems
        assert "skeletons.h5: sha256 differs from dataset.json (file modified or corrupted)" in problems
        with pytest.raises(CorruptShardError, match="sha256 differs"):
            stream_all(base)
        # verify left the served (bad) h5 in the cache: the next use checks it and fetches again
        with pytest.raises(ValueError, match="skeletons.h5 \\(download\\): sha256 differs from dataset.json"):
            _ = open_dataset(base, cache_dir=cache).h5_path
        (dataset / "skeletons.h5").write_bytes(original)
        assert open_dataset(base, cache_dir=cache).h5_path.read_bytes() == original


def test_empty_split_is_valid(tmp_path):
    """``"shards": []`` is a valid index (documented); streaming it says the split is empty."""
    from shardtools import write_dataset_json

    folder = tmp_path / "shards" / "xsub"
    folder.mkdir(parents=True)
    (folder / "test.json").write_text(json.dumps({"benchmark": "xsub", "split": "test", "num_samples": 0,
                                                  "shard_seed": 0, "shards": []}))
    write_dataset_json(tmp_path)
    from actclr.store.shards import read_shard_index

    assert read_shard_index(tmp_path, "xsub", "test").urls == []
    with pytest.raises(ValueError, match="the xsub/test split has no shards"):
        ShardStream.from_dataset_dir(tmp_path, "xsub", "test", 4)


def test_pretrain_stops_on_a_modified_shard_unless_no_verify(dataset, tmp_path, one_torch_thread):
    from click.testing import CliRunner
    from test_pretrain_run import DEMO, FAST

    from actclr.cli.train import cli

    flip_byte(dataset / SHARD)
    args = ["pretrain", "--data", str(dataset), "--config", DEMO, *FAST, "--epochs", "1",
            "--set", "monitor.every=0", "--workers", "1"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    # one line, although the error was raised in a DataLoader worker
    assert f"Error: shard {dataset / SHARD}: sha256 differs from dataset.json" in result.output.replace("\n", "")
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "unverified"), "--no-verify"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "unverified" / "encoder.pt").is_file()


@pytest.mark.parametrize("kind", ["external link", "external storage"])
def test_an_hdf5_file_reaching_outside_itself_is_refused(dataset, tmp_path, kind):
    import h5py
    import numpy as np

    from actclr.data import H5Samples
    from actclr.store.hdf5 import open_h5

    outside = tmp_path / "outside.h5"
    with h5py.File(dataset / "skeletons.h5", "r") as f, h5py.File(outside, "w") as g:
        g["ready"] = f["ready"][()]
    raw = tmp_path / "outside.bin"
    with h5py.File(dataset / "skeletons.h5", "a") as f:
        shape = f["ready"].shape
        del f["ready"]
        if kind == "external link":
            f["ready"] = h5py.ExternalLink(str(outside), "ready")
        else:
            np.zeros(shape, np.float32).tofile(raw)
            f.create_dataset("ready", shape=shape, dtype=np.float32, external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
    with pytest.raises(UnsafePathError, match="'ready' .*; refused"):
        open_h5(dataset / "skeletons.h5")
    with pytest.raises(UnsafePathError, match="refused"):
        H5Samples(dataset / "skeletons.h5")
    assert any("refused" in p for p in verify_dataset(dataset))
