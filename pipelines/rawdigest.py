"""Content digests of raw files, so that a file changed in place (even with its size kept) is noticed.

A plain raw file's digest is its sha256. Hashing every raw file on every run would read the whole
raw tree again, so the digests are remembered in ``memo`` (a JSON file, ``<out>/.raw-digests.json``)
together with each file's stamp (size, mtime, ctime and inode): a remembered digest is used only
while the stamp is unchanged. Writing a file always updates its ctime (which no tool can set
back), so a file fixed in place is hashed again even if its mtime was restored.

``remembered`` gives the stamps and the digests still valid; the others are hashed by whoever
reads the files anyway (``prepare``'s workers hash the bytes they parse), or here by
``file_digests``; ``remember`` puts the new digests into the memo.
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


def stamp(path) -> list:
    """``[size, mtime_ns, ctime_ns, inode]`` of the file at ``path``."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def load_memo(memo: Path) -> dict:
    """``{absolute path: [size, mtime_ns, ctime_ns, inode, sha256]}`` from ``memo`` (empty if unreadable)."""
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered(paths: list, memo: dict) -> tuple[dict, dict]:
    """``({path: stamp}, {path: sha256})``: the stamp of every path and the digests of ``memo``
    whose stamp still matches (paths missing from the second must be hashed)."""
    stamps = {path: stamp(path) for path in paths}
    digests = {}
    for path, now in stamps.items():
        entry = memo.get(_key(path))
        if isinstance(entry, list) and entry[:-1] == now:
            digests[path] = entry[-1]
    return stamps, digests


def remember(memo: dict, stamps: dict, digests: dict) -> None:
    """Put ``digests`` (``{path: sha256}``, of the files as stamped in ``stamps``) into ``memo``."""
    for path, digest in digests.items():
        memo[_key(path)] = [*stamps[path], digest]


def file_digests(paths: list, memo: dict, threads: int = 4) -> dict:
    """``{path: sha256}`` of ``paths``, reusing ``memo`` entries whose stamp still matches; ``memo``
    is updated in place. Files are hashed on ``threads`` threads (hashlib releases the GIL)."""
    stamps, digests = remembered(paths, memo)
    stale = [p for p in paths if p not in digests]
    with ThreadPoolExecutor(max(1, threads)) as pool:
        fresh = dict(zip(stale, pool.map(sha256_file, stale)))
    remember(memo, stamps, fresh)
    return {**digests, **fresh}


def save_memo(memo_path: Path, memo: dict, keep: list) -> None:
    """Write the entries of ``memo`` for the files ``keep`` (atomically)."""
    wanted = {_key(p) for p in keep}
    write_json(memo_path, {key: value for key, value in memo.items() if key in wanted})
