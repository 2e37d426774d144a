"""Content digests of raw files, so that a file changed in place (even with its size kept) is noticed.

``file_digests(paths, memo)`` returns the sha256 of each file. Hashing every raw file on every
run would read the whole raw tree again, so the digests are remembered in ``memo`` (a JSON file,
``<out>/.raw-digests.json``) together with each file's size, mtime, ctime and inode: a file is
hashed again whenever any of them changed. Writing a file always updates its ctime (which no
tool can set back), so a file fixed in place is re-hashed even if its mtime was restored.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from actclr.store.atomic import write_json
from actclr.store.checksums import sha256_file


def _key(path) -> str:
    """The memo key of ``path``: its absolute path (no symlinks resolved: a file's identity is
    checked by its stamp, which holds the inode, and resolving costs a system call per component)."""
    return os.path.abspath(path)


def _stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def load_memo(memo: Path) -> dict:
    """``{absolute path: [size, mtime_ns, ctime_ns, inode, sha256]}`` from ``memo`` (empty if unreadable)."""
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_digests(paths: list, memo: dict, threads: int = 4) -> dict:
    """``{path: sha256}`` of ``paths``, reusing ``memo`` entries whose stamp still matches; ``memo``
    is updated in place. Files are hashed on ``threads`` threads (hashlib releases the GIL)."""
    keys = {path: _key(path) for path in paths}
    stamps = {path: _stamp(Path(path)) for path in paths}
    stale = [p for p in paths if (memo.get(keys[p]) or [None])[:-1] != stamps[p]]
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for path, digest in zip(stale, pool.map(sha256_file, stale)):
            memo[keys[path]] = [*stamps[path], digest]
    return {path: memo[keys[path]][-1] for path in paths}


def save_memo(memo_path: Path, memo: dict, keep: list) -> None:
    """Write the entries of ``memo`` for the files ``keep`` (atomically)."""
    wanted = {_key(p) for p in keep}
    write_json(memo_path, {key: value for key, value in memo.items() if key in wanted})
