"""Progress on the console for long commands (prepare, pull, publish, the evaluation commands): rich bars on a
terminal, a plain line every ~10 % of a phase otherwise (log files stay readable)."""
from __future__ import annotations

import threading
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

_Shown = TypeVar("_Shown", bound="ConsoleProgress")


class ConsoleProgress:
    """``progress(phase, done, total)`` shown on ``console``; ``labels`` maps a phase to its description.

    Use as a context manager: the bars (one per phase) live between ``__enter__`` and ``__exit__``.
    """

    def __init__(self, console: Console, labels: dict | None = None):
        self.console = console
        self.labels = dict(labels or {})
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, disable=not console.is_terminal)
        self.tasks: dict = {}
        self.printed: dict = {}

    def __enter__(self: _Shown) -> _Shown:
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def progress(self, phase: str, done: int, total: int) -> None:
        label = self.labels.get(phase, phase)
        if self.console.is_terminal:
            if phase not in self.tasks:
                self.tasks[phase] = self.bars.add_task(label, total=total)
            self.bars.update(self.tasks[phase], completed=done, total=total)
            return
        step = 10 * done // max(total, 1)
        if done > 0 and step > self.printed.get(phase, 0):
            self.printed[phase] = step
            self.console.print(Text(f"{label}: {done}/{total}"))


def human_size(n: float) -> str:
    """``n`` bytes, human-readable."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class TransferProgress:
    """Bytes and files of a ``pull``/``publish``: a rich bar (size, speed, time left) on a terminal,
    a plain line every ~10 % otherwise. :meth:`advance` may be called from worker threads."""

    def __init__(self, console: Console, label: str, first: str | None = None):
        self.console = console
        self.label = label
        self.lock = threading.Lock()
        self.done = self.total = self.files = self.num_files = self.printed = 0
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                             TimeRemainingColumn(), console=console, disable=not console.is_terminal)
        self.task = self.bars.add_task(first or label, total=None)

    def __enter__(self) -> TransferProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def plan(self, files: int, total: int) -> None:
        self.num_files, self.total = files, total
        self.bars.update(self.task, total=total, description=f"{self.label} 0/{files} files")

    def advance(self, n: int) -> None:
        with self.lock:
            self.done += n
            self.bars.update(self.task, completed=self.done)
            step = 10 * self.done // max(self.total, 1)
            if not self.console.is_terminal and step > self.printed:
                self.printed = step
                self.console.print(Text(f"{self.label}: {human_size(self.done)} of {human_size(self.total)}"))

    def file_done(self) -> None:
        with self.lock:
            self.files += 1
            self.bars.update(self.task, description=f"{self.label} {self.files}/{self.num_files} files")
