"""Files shipped with actclr: the dataset registry, official lists and recipes.

In a source checkout (editable install) they are read from the repository; in a regular
install ``datasets.yaml`` and ``configs/`` live under ``<prefix>/share/actclr``.
"""
from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent
_SHARE = Path(sys.prefix) / "share" / "actclr"


def shared_path(name: str) -> Path:
    """Path of a top-level project file (``datasets.yaml``, ``configs/...``)."""
    for root in (_CHECKOUT, _SHARE):
        candidate = root / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} not found in {_CHECKOUT} or {_SHARE}; is actclr installed?")


def shipped_yaml(name_or_path: str | Path, folder: str) -> Path:
    """A YAML file given as a path, or by name (``.yaml`` optional) under the shipped ``folder``
    (e.g. ``configs`` or ``configs/sweeps``); ``FileNotFoundError`` if it is neither."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = path.name[:-5] if path.name.endswith(".yaml") else path.name
    return shared_path(f"{folder}/{name}.yaml")


def list_path(name: str) -> Path:
    """Path of a shipped list under ``actclr/resources/lists``."""
    path = _PACKAGE / "lists" / name
    if not path.exists():
        raise FileNotFoundError(f"shipped list {name} missing from {path.parent}")
    return path
