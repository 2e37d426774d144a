"""Progress on the console for long commands (prepare, the evaluation commands): rich bars on a
terminal, a plain line every ~10 % of a phase otherwise (log files stay readable)."""
from __future__ import annotations

from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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
