"""Write generated files into a folder tree or into zip archives, never leaving half-written files.

Plain files go to ``<name>.tmp`` and are renamed; archives are built as ``<archive>.tmp`` and
renamed by ``close()``. Zip entries carry a fixed timestamp, so the same content gives the same
bytes.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class RawWriter:
    """``write(member, data, archive)`` stores ``root/member`` (``archives=False``) or the entry
    ``member`` of ``root/archive`` (``archives=True``). Use as a context manager: on an error the
    unfinished archives are deleted."""

    def __init__(self, root: Path, archives: bool):
        self.root = Path(root)
        self.archives = archives
        self._open: dict = {}

    def write(self, member: str, data: bytes, archive: str) -> None:
        if not self.archives:
            write_atomic(self.root / member, data)
            return
        if archive not in self._open:
            self.root.mkdir(parents=True, exist_ok=True)
            self._open[archive] = zipfile.ZipFile(self.root / (archive + ".tmp"), "w")
        info = zipfile.ZipInfo(member, date_time=_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._open[archive].writestr(info, data, compresslevel=1)

    def close(self) -> list:
        """Finish the archives; returns their paths."""
        done = []
        for archive, handle in sorted(self._open.items()):
            handle.close()
            os.replace(self.root / (archive + ".tmp"), self.root / archive)
            done.append(self.root / archive)
        self._open.clear()
        return done

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            return
        for archive, handle in self._open.items():
            handle.close()
            (self.root / (archive + ".tmp")).unlink(missing_ok=True)
        self._open.clear()
