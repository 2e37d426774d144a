"""Vectorised tokenising of whitespace-separated numeric text (NTU ``.skeleton``, PKU-MMD ``.txt``).

The whole file is tokenised with numpy byte masks and converted to float64 in one pyarrow cast,
instead of calling ``float()`` once per token. Whitespace is space, tab, CR and LF, so LF and
CRLF files read the same. Line numbers are physical (1-based, split on LF).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WHITESPACE = b" \t\r\n"
_TOKEN = re.compile(rb"[^ \t\r\n]+")
_NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(rb"[+-]?(nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Tokens:
    """Token boundaries of ``data``.

    ``starts``/``ends``: ``(n,)`` int64 byte offsets of each token (end exclusive).
    ``line_first``: ``(L,)`` index of the first token on each physical line (``L`` = number of
    LF + 1); ``line_counts``: ``(L,)`` tokens on each line.
    """

    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    line_first: np.ndarray
    line_counts: np.ndarray

    def text(self, k: int) -> bytes:
        """The bytes of token ``k``."""
        return self.data[self.starts[k]:self.ends[k]]

    @cached_property
    def values(self) -> np.ndarray | None:
        """``(n,)`` float64 of every token, or ``None`` if some token is not a decimal number."""
        lengths = (self.ends - self.starts).astype(np.int32)
        offsets = np.zeros(len(lengths) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        compact = self.data.translate(None, _WHITESPACE)
        strings = pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(compact))
        try:
            values = pc.cast(strings, pa.float64())
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        # the values buffer itself: Array.to_numpy() would import pandas (a second per process)
        return np.frombuffer(values.buffers()[1], np.float64, count=len(values), offset=8 * values.offset)


def tokenize(data: bytes) -> Tokens:
    """Split ``data`` at runs of whitespace and record where each physical line starts."""
    b = np.frombuffer(data, np.uint8)
    space = np.ones(len(b) + 2, bool)
    inner = space[1:-1]
    inner[:] = b == 32
    for ch in _WHITESPACE[1:]:
        inner |= b == ch
    edges = np.flatnonzero(space[1:] != space[:-1])
    starts, ends = edges[0::2], edges[1::2]
    newlines = np.flatnonzero(b == 10)
    cuts = np.searchsorted(starts, newlines)
    line_first = np.concatenate(([0], cuts))
    line_counts = np.diff(np.concatenate((line_first, [len(starts)])))
    return Tokens(data, starts, ends, line_first, line_counts)


def number_problem(token: bytes) -> str | None:
    """Why ``token`` is not a finite decimal number, or ``None`` if it is one."""
    if _NUMBER.fullmatch(token):
        return None if np.isfinite(float(token)) else f"value {token.decode()!r} is not finite"
    if _NON_FINITE.fullmatch(token):
        return f"value {token.decode(errors='replace')!r} is not finite (NaN/inf)"
    return f"{token.decode(errors='replace')!r} is not a number"


def physical_lines(data: bytes):
    """Yield ``(line_number, tokens)`` for every physical line that holds tokens (slow path)."""
    for number, line in enumerate(data.split(b"\n"), 1):
        tokens = _TOKEN.findall(line)
        if tokens:
            yield number, tokens
