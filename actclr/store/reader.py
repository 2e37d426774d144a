"""Open a prepared dataset from a local directory, a ``file://`` URL or any fsspec URL
(``http(s)://``, ``memory://``, ``s3://``, ``gs://``, ``hf://``...; see :mod:`actclr.store.streams`).

What works where:

- local directory / ``file://``: everything is read in place.
- a URL: ``dataset.json``, the manifest, shard indexes and the average motions are
  fetched into memory; shards are streamed from their URLs (``ShardStream.from_dataset_dir``,
  hashed as they stream); ``h5_path`` / ``videos_path`` / :meth:`PreparedDataset.local_path`
  download the file into the cache (``$ACTCLR_CACHE`` or ``~/.cache/actclr``, one folder per
  fingerprint), hashing it as it arrives, and check a cached copy against the sha256 in the
  server's current ``dataset.json`` each time the dataset is opened.

``dataset.json`` is untrusted: its file names, benchmark names and fingerprint are checked by
:mod:`actclr.store.paths` when it is opened, and every location is built from the dataset's own.
"""
from __future__ import annotations

import io
import json
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from actclr.store.atomic import write_bytes
from actclr.store.checksums import sha256_file
from actclr.store.errors import DatasetError
from actclr.store.manifest import read_manifest
from actclr.store.paths import check_component, check_digest, check_name, local_file, url_of
from actclr.store.streams import fetch, local_path, location_size, read_location

DATASET_JSON = "dataset.json"


def default_cache_dir() -> Path:
    return Path(os.environ.get("ACTCLR_CACHE", Path.home() / ".cache" / "actclr"))


def check_info(info: object, where: str) -> dict:
    """``dataset.json`` content with its names checked: ``files`` keys (relative paths inside the
    dataset) and values (sha256 digests), ``counts`` keys (benchmark names, path components)."""
    if not isinstance(info, dict):
        raise DatasetError(f"{where}: not a JSON object")
    files = info.get("files", {})
    if not isinstance(files, dict):
        raise DatasetError(f"{where}: 'files' is not an object")
    for name, digest in files.items():
        check_name(name, f"{where} files")
        check_digest(digest, f"{where} files[{name!r}]")
    counts = info.get("counts", {})
    if not isinstance(counts, dict):
        raise DatasetError(f"{where}: 'counts' is not an object")
    for benchmark in counts:
        check_component(benchmark, f"{where} counts")
    return info


class PreparedDataset:
    """A prepared dataset directory (see ``docs/data-format.md``), local or remote."""

    def __init__(self, location: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        self.location = str(location)
        self.root = local_path(self.location)
        self.base_url = None if self.root is not None else self.location.rstrip("/") + "/"
        self._cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if self.root is not None and not (self.root / DATASET_JSON).is_file():
            raise FileNotFoundError(f"{self.root}: no {DATASET_JSON} (not a prepared dataset, or incomplete)")
        where = self.url_of(DATASET_JSON)
        self._info_bytes = self.read_bytes(DATASET_JSON)
        try:
            info = json.loads(self._info_bytes)
        except (UnicodeDecodeError, json.JSONDecodeError) as exn:
            raise DatasetError(f"{where}: not JSON ({exn})") from None
        self.info: dict = check_info(info, where)
        self._checked: dict = {}             # cached files checked against self.info (remote)

    @property
    def info_bytes(self) -> bytes:
        """``dataset.json`` exactly as read when the dataset was opened."""
        return self._info_bytes

    @property
    def is_local(self) -> bool:
        return self.root is not None

    def url_of(self, relative: str) -> str:
        """Path (local) or URL (remote) of a file of the dataset; ``relative`` is checked by
        :mod:`actclr.store.paths` (``UnsafePathError`` otherwise)."""
        if self.root is not None:
            return str(local_file(self.root, relative, self.location))
        assert self.base_url is not None  # set whenever root is not
        return url_of(self.base_url, relative, self.location)

    def read_bytes(self, relative: str) -> bytes:
        """The bytes of a (small) file of the dataset."""
        if self.root is not None:
            return Path(self.url_of(relative)).read_bytes()
        return read_location(self.url_of(relative))

    def file_size(self, relative: str) -> int:
        """Size in bytes of a dataset file (a ``HEAD`` request over http)."""
        return location_size(self.url_of(relative))

    def sha256_of(self, relative: str) -> str:
        """The sha256 that ``dataset.json`` lists for ``relative`` (``ValueError`` if it lists none)."""
        digest = self.info.get("files", {}).get(relative)
        if digest is None:
            raise DatasetError(f"{self.url_of(relative)}: not listed in {DATASET_JSON} 'files', "
                               "so it cannot be verified")
        return digest

    @property
    def cache_dir(self) -> Path:
        """Where remote files are downloaded: one folder per (checked hex) fingerprint."""
        fingerprint = check_digest(self.info.get("fingerprint"), f"{self.url_of(DATASET_JSON)} fingerprint")
        return self._cache_root / "datasets" / fingerprint

    def local_path(self, relative: str, check: bool = True) -> Path:
        """A local path of a dataset file, downloading it into :attr:`cache_dir` when remote.

        With ``check`` a cached copy is compared with the sha256 of the server's ``dataset.json``
        (read when the dataset was opened) on its first use since then, and fetched again when
        it differs; a download whose sha256 differs raises ``ValueError`` (``DigestMismatchError``)
        and is not kept.
        """
        if self.root is not None:
            return Path(self.url_of(relative))
        target = local_file(self.cache_dir, relative, self.location)
        expected = self.sha256_of(relative) if check else None
        if expected is not None and self._checked.get(relative) == expected:
            return target                    # already checked since this dataset was opened
        if not (target.is_file() and (expected is None or sha256_file(target) == expected)):
            fetch(self.url_of(relative), target, expected)
        if expected is not None:
            self._checked[relative] = expected
        return target

    def local_copy(self) -> Path:
        """A local directory holding the whole dataset. Remote: every listed file is downloaded
        again (what the server serves now, unchecked: ``verify`` compares) into the cache."""
        if self.root is not None:
            return self.root
        for relative in self.info.get("files", {}):
            target = local_file(self.cache_dir, relative, self.location)
            try:
                fetch(self.url_of(relative), target, None)
            except OSError:                  # not served: no stale copy may stand in for it
                target.unlink(missing_ok=True)
        write_bytes(self.cache_dir / DATASET_JSON, self._info_bytes)
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
    """Open the prepared dataset at a directory, ``file://`` URL or fsspec URL (``http(s)://``, ``memory://``...)."""
    return PreparedDataset(location, cache_dir)
