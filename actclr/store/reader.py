"""Open a prepared dataset from a local directory, a ``file://`` URL or an ``http(s)://`` URL.

What works where:

- local directory / ``file://``: everything is read in place.
- ``http(s)://``: ``dataset.json``, the manifest and the average motions are fetched into memory;
  shards are streamed by ``webdataset`` directly from their URLs (``actclr.data.read_shard_index`` /
  ``ShardStream.from_dataset_dir`` read the index); ``h5_path`` / ``videos_path`` / :meth:`local_path` first
  download the file into the cache (``$ACTCLR_CACHE`` or ``~/.cache/actclr``, one folder per
  fingerprint) and check it against its sha256 in ``dataset.json``.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import urllib.parse
import urllib.request
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from actclr.store.atomic import atomic_path
from actclr.store.checksums import sha256_file
from actclr.store.manifest import read_manifest

DATASET_JSON = "dataset.json"


def default_cache_dir() -> Path:
    return Path(os.environ.get("ACTCLR_CACHE", Path.home() / ".cache" / "actclr"))


def _as_local(location: str) -> Path | None:
    """The directory of a local path or ``file://`` URL; ``None`` for http(s) URLs."""
    parsed = urllib.parse.urlparse(str(location))
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(location)


class PreparedDataset:
    """A prepared dataset directory (see ``docs/data-format.md``), local or remote."""

    def __init__(self, location: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        self.location = str(location)
        self.root = _as_local(self.location)
        self.base_url = None if self.root is not None else self.location.rstrip("/") + "/"
        self._cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if self.root is not None and not (self.root / DATASET_JSON).is_file():
            raise FileNotFoundError(f"{self.root}: no {DATASET_JSON} (not a prepared dataset, or incomplete)")
        self.info: dict = json.loads(self.read_bytes(DATASET_JSON))

    @property
    def is_local(self) -> bool:
        return self.root is not None

    def url_of(self, relative: str) -> str:
        """Path (local) or URL (remote) of a file of the dataset."""
        if self.root is not None:
            return str(self.root / relative)
        assert self.base_url is not None  # set whenever root is not
        return urllib.parse.urljoin(self.base_url, urllib.parse.quote(relative))

    def read_bytes(self, relative: str) -> bytes:
        """The bytes of a (small) file of the dataset."""
        if self.root is not None:
            return (self.root / relative).read_bytes()
        with urllib.request.urlopen(self.url_of(relative)) as response:
            return response.read()

    def file_size(self, relative: str) -> int:
        """Size in bytes of a dataset file (a ``HEAD`` request when remote)."""
        if self.root is not None:
            return (self.root / relative).stat().st_size
        request = urllib.request.Request(self.url_of(relative), method="HEAD")
        with urllib.request.urlopen(request) as response:
            return int(response.headers.get("Content-Length", 0))

    @property
    def cache_dir(self) -> Path:
        """Where remote files are downloaded (one folder per fingerprint)."""
        return self._cache_root / "datasets" / self.info["fingerprint"]

    def local_path(self, relative: str, check: bool = True) -> Path:
        """A local path of a dataset file, downloading it into :attr:`cache_dir` when remote.

        With ``check`` a download whose sha256 differs from ``dataset.json`` raises ``ValueError``.
        """
        if self.root is not None:
            return self.root / relative
        target = self.cache_dir / relative
        expected = self.info.get("files", {}).get(relative)
        if not target.exists():
            with (atomic_path(target) as tmp, urllib.request.urlopen(self.url_of(relative)) as response,
                  open(tmp, "wb") as f):
                shutil.copyfileobj(response, f, 1 << 20)
        if check and expected is not None and sha256_file(target) != expected:
            target.unlink()
            raise ValueError(f"{self.url_of(relative)}: sha256 differs from dataset.json (download corrupted?)")
        return target

    def local_copy(self) -> Path:
        """A local directory holding the whole dataset (downloads every file when remote, unchecked)."""
        if self.root is not None:
            return self.root
        for relative in self.info.get("files", {}):
            self.local_path(relative, check=False)
        (self.cache_dir / DATASET_JSON).write_bytes(self.read_bytes(DATASET_JSON))
        return self.cache_dir

    @cached_property
    def manifest(self) -> pa.Table:
        """``manifest.parquet`` as a pyarrow Table (rows sorted by key)."""
        return read_manifest(io.BytesIO(self.read_bytes("manifest.parquet")))

    @property
    def benchmarks(self) -> list:
        return list(self.info["counts"])

    def average_motion(self, benchmark: str) -> np.ndarray:
        """``(3, 50, 25, 2)`` float32 mean of the benchmark's training split."""
        return np.load(io.BytesIO(self.read_bytes(f"average_motion/{benchmark}.npy")), allow_pickle=False)

    @property
    def h5_path(self) -> Path:
        """Local path of ``skeletons.h5`` (downloaded and checked first when remote)."""
        return self.local_path("skeletons.h5")

    @property
    def videos_path(self) -> Path | None:
        """Local path of ``videos.h5`` (PKU-MMD), ``None`` if the dataset has none."""
        if "videos.h5" not in self.info.get("files", {}):
            return None
        return self.local_path("videos.h5")


def open_dataset(location: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> PreparedDataset:
    """Open the prepared dataset at a directory, ``file://`` URL or ``http(s)://`` URL."""
    return PreparedDataset(location, cache_dir)
