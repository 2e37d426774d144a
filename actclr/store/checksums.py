"""sha256 of files and of a whole dataset directory."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def is_hidden(relative: Path) -> bool:
    """True for paths with a component starting with ``.`` (temporary files, ``.partial/``)."""
    return any(part.startswith(".") for part in relative.parts)


def dataset_files(root: str | os.PathLike, exclude: tuple = ("dataset.json",)) -> list:
    """Relative POSIX paths of the visible files under ``root`` (sorted), minus ``exclude``."""
    root = Path(root)
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not is_hidden(rel) and rel.as_posix() not in exclude:
            found.append(rel.as_posix())
    return sorted(found)


def checksum_tree(root: str | os.PathLike, exclude: tuple = ("dataset.json",), known: dict | None = None) -> dict:
    """``{relative path: sha256}`` for every visible file under ``root`` except ``exclude``;
    ``known`` digests (computed by whoever wrote those files) are taken as they are."""
    root = Path(root)
    known = known or {}
    return {rel: known[rel] if rel in known else sha256_file(root / rel) for rel in dataset_files(root, exclude)}
