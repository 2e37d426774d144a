"""The one rule for names taken from a dataset: a relative POSIX path inside the dataset.

A prepared dataset is untrusted input (it may come from another team or a server). Every file
name it supplies (``dataset.json`` ``files`` keys and benchmark names, shard index ``url``
entries) is checked here before the toolkit builds a location from it, and locations are always
built by the toolkit from the dataset's own location (:func:`local_file`, :func:`url_of`):

- accepted: ``name`` or ``dir/name`` made of components of printable characters;
- refused: empty names, absolute paths (``/x``), drive letters and schemes (any ``:``, so
  ``C:x``, ``pipe:cmd``, ``http://other-host/x``), backslashes, ``.``/``..`` components, empty
  components (``a//b``), hidden components (``.x``: never part of a dataset), control characters;
- locally, a file whose real path (symlinks followed) leaves the dataset directory is refused.

Cache directory names come from :func:`check_digest` (64 lowercase hex digits).
"""
from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path, PurePosixPath

from actclr.store.errors import DatasetError

_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f:\\]")


class UnsafePathError(DatasetError):
    """A name from a dataset that is not a relative POSIX path inside it; names where it came from."""


def check_name(name: object, where: str) -> str:
    """``name`` if it is a relative POSIX path inside the dataset, else :class:`UnsafePathError`.

    ``where`` says where the name was read (``dataset.json files``, ``shards/xsub/train.json``).
    """
    if not isinstance(name, str) or not name:
        raise UnsafePathError(f"{where}: file name {name!r} is not a non-empty string")
    problem = None
    if name.startswith("/"):
        problem = "is an absolute path"
    elif _FORBIDDEN.search(name):
        problem = "holds a ':' (scheme or drive letter), a backslash or a control character"
    else:
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            problem = "has an empty, '.' or '..' component"
        elif any(part.startswith(".") for part in parts):
            problem = "has a hidden ('.') component"
    if problem:
        raise UnsafePathError(f"{where}: file name {name!r} {problem}; "
                              "only relative paths inside the dataset are allowed")
    return name


def check_component(name: object, where: str) -> str:
    """``name`` if it is a single safe path component (a benchmark or split name)."""
    name = check_name(name, where)
    if "/" in name:
        raise UnsafePathError(f"{where}: name {name!r} must be a single path component")
    return name


def check_digest(value: object, where: str) -> str:
    """``value`` if it is a lowercase hex sha256 (64 digits), else :class:`UnsafePathError`."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise UnsafePathError(f"{where}: {value!r} is not a sha256 hex digest (64 lowercase hex digits)")
    return value


def local_file(root: str | os.PathLike, name: str, where: str) -> Path:
    """``root/name`` for a checked ``name``; refuses a path whose real location (symlinks
    followed) is outside ``root``'s real location."""
    root = Path(root)
    path = root.joinpath(*PurePosixPath(check_name(name, where)).parts)
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        raise UnsafePathError(f"{where}: {name!r} is a symlink (or under one) pointing outside the dataset, to {real}")
    return path


def url_of(base_url: str, name: str, where: str) -> str:
    """``base_url`` (ending in ``/``) followed by the checked ``name``, percent-encoded for http(s)
    (object store keys and ``memory://`` paths are literal)."""
    name = check_name(name, where)
    http = urllib.parse.urlsplit(base_url).scheme in ("http", "https")
    return base_url + (urllib.parse.quote(name) if http else name)
