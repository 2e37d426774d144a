"""Open dataset files by location and hash them while they are read.

Locations are local paths, ``file://`` URLs and ``http(s)://`` URLs, nothing else: no
``pipe:`` commands or other schemes, and an http server may not redirect to another host or
scheme. :class:`HashingReader` computes the sha256 of everything read through it, so a shard is
verified in the same pass that decodes it.
"""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from actclr.store.errors import DatasetError

#: Seconds an http request may stall before it fails.
HTTP_TIMEOUT = 60
_BLOCK = 1 << 20


class DigestMismatchError(DatasetError):
    """The bytes read differ from their listed sha256."""


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to the same scheme and host as the request."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise urllib.error.HTTPError(req.full_url, code, f"redirect to another host refused: {newurl}",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


def is_http(location: str) -> bool:
    return urllib.parse.urlsplit(str(location)).scheme in ("http", "https")


def local_path(location: str) -> Path | None:
    """The local path of a path or ``file://`` URL; ``None`` for http(s); ``DatasetError`` for other schemes."""
    parsed = urllib.parse.urlsplit(str(location))
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:   # one letter: a Windows drive
        raise DatasetError(f"{location}: unsupported location scheme {parsed.scheme!r} "
                         "(use a local path, file:// or http(s)://)")
    return Path(location)


def http_open(url: str, method: str = "GET"):
    """The response to ``url`` (same-origin redirects only)."""
    return _OPENER.open(urllib.request.Request(url, method=method), timeout=HTTP_TIMEOUT)


def open_location(location: str) -> BinaryIO:
    """A binary stream of the file at a local path, ``file://`` or ``http(s)://`` URL."""
    path = local_path(location)
    return http_open(location) if path is None else open(path, "rb")


class HashingReader:
    """A read-only stream over ``raw`` that feeds every byte read into a sha256 (when there is an
    ``expected`` digest to compare it with).

    :meth:`finish` reads what is left (a tar reader stops before the archive's end padding) and
    raises :class:`DigestMismatchError` if the whole content differs from ``expected``.
    """

    def __init__(self, raw: BinaryIO, expected: str | None = None):
        self.raw = raw
        self.expected = expected
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
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
