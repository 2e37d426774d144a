"""The one error type raised for bad raw input."""
from __future__ import annotations


class ParseError(ValueError):
    """A raw file (or archive member) that cannot be read.

    ``file`` names the file (for archive members ``archive.zip/member``), ``line`` is the 1-based
    line number of the problem or ``None`` when it is not about one line (file name, archive
    damage), ``reason`` says what is wrong. ``str()`` names all three. Picklable, so worker
    processes can send it back.
    """

    def __init__(self, file: str, line: int | None, reason: str):
        super().__init__(file, line, reason)
        self.file = file
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"
