"""Open dataset files by location (one URL layer: fsspec) and hash them while they are read.

A location is a local path, a ``file://`` URL or the URL of any installed fsspec protocol
(``http(s)://``, ``memory://``; ``s3://``, ``gs://``, ``hf://`` with the extras ``s3``, ``gcs``,
``hf``). Anything else (``pipe:`` commands, unknown schemes) is refused, and an http server may
not redirect to another host or scheme. :class:`HashingReader` computes the sha256 of everything
read through it, so a file is verified in the same pass that reads it.
"""
from __future__ import annotations

import hashlib
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.registry import known_implementations

from actclr.store.atomic import atomic_path
from actclr.store.errors import DatasetError

#: Seconds an http request may stall (connect, or between two reads) before it fails.
HTTP_TIMEOUT = 60
_BLOCK = 1 << 20
#: The ``setup.cfg`` extra that installs each protocol's filesystem.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hf": "hf"}
_HTTP = ("http", "https")


class DigestMismatchError(DatasetError):
    """The bytes read differ from their listed sha256."""


class MissingExtraError(DatasetError):
    """A location's protocol needs a package that is not installed; the message names the extra."""


class RedirectRefusedError(DatasetError):
    """An http server redirected to another scheme or host."""


async def _same_origin(session, context, params) -> None:
    """aiohttp trace hook: refuse a redirect to another scheme or host."""
    import yarl

    old = params.url
    new = old.join(yarl.URL(params.response.headers.get("Location", "")))
    if (old.scheme, old.host, old.port) != (new.scheme, new.host, new.port):
        raise RedirectRefusedError(f"{old}: redirect to another host refused: {new}")


def _http_options() -> dict:
    import aiohttp  # fsspec's http filesystem needs it (a dependency of actclr)

    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(_same_origin)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=HTTP_TIMEOUT, sock_read=HTTP_TIMEOUT)
    return {"client_kwargs": {"trace_configs": [trace], "timeout": timeout}}


_OPTIONS: dict[str, dict] = {}


def scheme_of(location: str) -> str:
    """The URL scheme of ``location`` (``""`` for a path, a Windows drive letter included)."""
    scheme = urllib.parse.urlsplit(str(location)).scheme
    return scheme if len(scheme) > 1 else ""


def is_http(location: str) -> bool:
    return scheme_of(location) in _HTTP


def local_path(location: str) -> Path | None:
    """The local path of a path or ``file://`` URL; ``None`` for the URL of an fsspec protocol;
    ``DatasetError`` for any other scheme."""
    scheme = scheme_of(location)
    if scheme == "file":
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(str(location)).path))
    if not scheme:
        return Path(location)
    if scheme not in fsspec.available_protocols():
        raise DatasetError(f"{location}: unsupported location scheme {scheme!r} (use a local path, file://, "
                           "http(s)://, memory://, s3://, gs://, hf:// or another installed fsspec protocol)")
    return None


def filesystem(location: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path)`` of a URL; :class:`MissingExtraError` naming the extra to
    install when the protocol's package is absent."""
    scheme = scheme_of(location)
    if scheme in _HTTP and scheme not in _OPTIONS:
        _OPTIONS[scheme] = _http_options()
    try:
        return fsspec.core.url_to_fs(location, **_OPTIONS.get(scheme, {}))
    except ImportError:
        package = known_implementations.get(scheme, {}).get("class", scheme).split(".")[0]
        extra = EXTRAS.get(scheme)
        install = f"pip install 'actclr[{extra}]'" if extra else f"pip install {package}"
        raise MissingExtraError(f"{location}: {scheme}:// URLs need {package}, which is not installed "
                                f"({install})") from None


def _remote_errors(location: str, exn: Exception) -> Exception:
    """An ``OSError`` naming ``location`` for a client error of a remote store (http status...)."""
    if isinstance(exn, (OSError, DatasetError)):
        return exn
    return OSError(f"{location}: {type(exn).__name__}: {exn}")


def open_location(location: str) -> BinaryIO:
    """A sequential binary stream of the file at a local path or URL."""
    path = local_path(location)
    if path is not None:
        return open(path, "rb")
    fs, remote = filesystem(location)
    try:   # http: a streamed GET (no range requests, which simple servers do not serve)
        return fs.open(remote, "rb", **({"block_size": 0} if is_http(location) else {}))
    except Exception as exn:
        raise _remote_errors(location, exn) from exn


def read_location(location: str) -> bytes:
    """The whole content of a (small) file."""
    with open_location(location) as f:
        try:
            return f.read()
        except Exception as exn:
            raise _remote_errors(location, exn) from exn


def location_size(location: str) -> int:
    """Size in bytes of the file at ``location`` (a ``HEAD`` request over http)."""
    path = local_path(location)
    if path is not None:
        return path.stat().st_size
    fs, remote = filesystem(location)
    try:
        return int(fs.size(remote) or 0)
    except Exception as exn:
        raise _remote_errors(location, exn) from exn


def fetch(location: str, target: str | Path, expected: str | None, on_bytes=None) -> None:
    """Copy the file at ``location`` to the local ``target``: under a temporary name, renamed once
    complete and (with ``expected``) once its sha256 matched, so a mismatching or interrupted
    download is never published. ``on_bytes(n)`` is called as blocks arrive."""
    with atomic_path(target) as tmp, HashingReader(open_location(location), expected, location) as stream:
        with open(tmp, "wb") as f:
            if on_bytes is None:
                shutil.copyfileobj(stream, f, _BLOCK)
            else:
                while block := stream.read(_BLOCK):
                    f.write(block)
                    on_bytes(len(block))
        stream.finish(f"{location} (download)")


class HashingReader:
    """A read-only stream over ``raw`` that feeds every byte read into a sha256 (when there is an
    ``expected`` digest to compare it with).

    :meth:`finish` reads what is left (a tar reader stops before the archive's end padding) and
    raises :class:`DigestMismatchError` if the whole content differs from ``expected``.
    """

    def __init__(self, raw: BinaryIO, expected: str | None = None, location: str = ""):
        self.raw = raw
        self.expected = expected
        self.location = location
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.raw.read(n)
        except Exception as exn:
            raise _remote_errors(self.location or "stream", exn) from exn
        if self.expected is not None:   # nothing to compare with: no hashing
            self.hash.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> str:
        """Read to the end; the hex sha256 of the whole content."""
        while self.read(_BLOCK):
            pass
        return self.hash.hexdigest()

    def finish(self, name: str) -> None:
        """Drain and compare with ``expected`` (no-op without one); ``name`` goes in the error."""
        if self.expected is None:
            return
        digest = self.drain()
        if digest != self.expected:
            raise DigestMismatchError(f"{name}: sha256 differs from dataset.json ({digest[:12]}... instead of "
                                      f"{self.expected[:12]}..., {self.size} bytes read; file modified or corrupted)")

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
