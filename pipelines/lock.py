"""One ``prepare`` at a time per output directory: an advisory lock on ``<out>/.lock``.

The lock is ``flock`` on the file, so the kernel releases it when its holder exits, however it
exits: a lock file left by a dead process is simply taken over. The holder writes its pid into
the file, so a second run can say who holds it. The file stays (hidden files are never part of
a dataset); removing it on release would let two later runs lock two different files.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; prepare runs unlocked there
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class OutputLocked(RuntimeError):
    """Another live process holds the output directory's lock."""


@contextmanager
def output_lock(directory: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``directory`` (created if needed) for the ``with`` block; yields the lock file.

    Raises :class:`OutputLocked` at once, naming the holder's pid, if another process holds it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise OutputLocked(f"{directory} is being prepared by another process (pid {holder}); "
                                   "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
