"""Parse NTU RGB+D 60/120 ``.skeleton`` files (format: ``docs/datasets.md``).

``parse_ntu`` takes a fast path (whole-file tokenising + one bulk float conversion + vectorised
layout checks). Only when that path finds something wrong does the line-by-line reader
``_diagnose`` run, to name the first bad line and what is wrong with it.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import PurePosixPath

import numpy as np

from actclr import registry
from actclr.skeleton import NUM_JOINTS, RawSkeleton

from .errors import ParseError
from .text import Tokens, number_problem, physical_lines, tokenize

INFO_VALUES = 10      # bodyID clipedEdges handLeftConfidence handLeftState ... trackingState
JOINT_VALUES = 12     # x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState
BODY_LINES = 2 + NUM_JOINTS
_UINT64_MAX = 2**64 - 1


@cache
def ntu_name_pattern() -> re.Pattern:
    """The file-name pattern shared by the NTU datasets in the registry."""
    patterns = {registry.get_dataset(n).file_pattern for n in registry.dataset_names()
                if registry.get_dataset(n).format == "ntu"}
    if len(patterns) != 1:
        raise ValueError(f"NTU datasets disagree on the file pattern: {sorted(patterns)}")
    return re.compile(patterns.pop())


def ntu_sample(name: str) -> tuple[str, dict]:
    """``(key, meta)`` of an NTU file name (a path or archive member is reduced to its basename).

    ``meta`` = ``setup camera subject replication label`` with ``label = A - 1``.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    match = ntu_name_pattern().fullmatch(base)
    if match is None:
        raise ParseError(name, None, "file name is not an NTU sample name (expected SsssCcccPpppRrrrAaaa.skeleton)")
    fields = {k: int(v) for k, v in match.groupdict().items()}
    meta = {"setup": fields["setup"], "camera": fields["camera"], "subject": fields["subject"],
            "replication": fields["replication"], "label": fields["action"] - 1}
    return base[: -len(".skeleton")], meta


def parse_ntu(data: bytes, name: str) -> RawSkeleton:
    """Parse one ``.skeleton`` file into ``xyz (T, S, 25, 3)`` float32 and ``body_ids (T, S)`` uint64.

    All 12 values of every joint line are validated (count and finite numbers); only x, y, z are
    kept. Frames with 0 bodies stay as empty frames. Raises ``ParseError(name, line, reason)``.
    """
    key, meta = ntu_sample(name)
    tokens = tokenize(data)
    layout = _fast_layout(tokens)
    if layout is None:
        raise _diagnose(data, name) or ParseError(name, None, "inconsistent file structure")
    frames, bodies_per_frame, joint_tokens, body_ids = layout
    assert tokens.values is not None  # a layout is only found for a file of numbers
    slots = int(bodies_per_frame.max(initial=0))
    frame_of = np.repeat(np.arange(frames), bodies_per_frame)
    slot_of = _slot_of_each_body(bodies_per_frame)
    offsets = (np.arange(NUM_JOINTS) * JOINT_VALUES)[:, None] + np.arange(3)
    xyz = np.zeros((frames, slots, NUM_JOINTS, 3), np.float32)
    ids = np.zeros((frames, slots), np.uint64)
    xyz[frame_of, slot_of] = tokens.values[joint_tokens[:, None, None] + offsets]
    ids[frame_of, slot_of] = body_ids
    return RawSkeleton(key=key, xyz=xyz, body_ids=ids, meta=meta)


def _slot_of_each_body(bodies_per_frame: np.ndarray) -> np.ndarray:
    """``(B,)`` position of every body within its frame, for ``bodies_per_frame (T,)``."""
    starts = np.cumsum(bodies_per_frame) - bodies_per_frame
    return np.arange(int(bodies_per_frame.sum())) - np.repeat(starts, bodies_per_frame)


def _fast_layout(tokens: Tokens):
    """``(T, bodies per frame (T,), first joint token per body (B,), body ids (B,) uint64)``,
    or ``None`` when anything about the file is wrong (then ``_diagnose`` explains)."""
    values = tokens.values
    if values is None or not np.isfinite(values).all():
        return None
    rows = np.flatnonzero(tokens.line_counts)            # non-blank physical lines
    counts = tokens.line_counts[rows]
    first = tokens.line_first[rows]                      # first token of each non-blank line
    heads = values[first].tolist()
    if not heads or counts[0] != 1 or heads[0] < 0 or not float(heads[0]).is_integer():
        return None
    frames = int(heads[0])
    frame_row_list, body_list = [], []
    pos = 1
    for _ in range(frames):
        if pos >= len(heads) or heads[pos] < 0 or not float(heads[pos]).is_integer():
            return None
        frame_row_list.append(pos)
        body_list.append(int(heads[pos]))
        pos += 1 + BODY_LINES * body_list[-1]
    if pos != len(heads):
        return None
    frame_rows = np.asarray(frame_row_list, np.int64)
    bodies = np.asarray(body_list, np.int64)
    blocks = np.repeat(frame_rows + 1, bodies) + BODY_LINES * _slot_of_each_body(bodies)
    joint_rows = blocks[:, None] + 2 + np.arange(NUM_JOINTS)
    if not ((counts[frame_rows] == 1).all() and (counts[blocks] == INFO_VALUES).all()
            and (counts[blocks + 1] == 1).all() and (values[first[blocks + 1]] == NUM_JOINTS).all()
            and (counts[joint_rows] == JOINT_VALUES).all()):
        return None
    body_ids = []
    for k in first[blocks].tolist():
        text = tokens.text(k)
        if not text.isdigit() or int(text) > _UINT64_MAX:
            return None
        body_ids.append(int(text))
    return frames, bodies, first[blocks + 2], np.asarray(body_ids, np.uint64)


class _Lines:
    """Line-by-line reader over the non-blank lines of a file, raising precise ``ParseError``s."""

    def __init__(self, data: bytes, name: str):
        self._lines = physical_lines(data)
        self._ahead = next(self._lines, None)
        self.name = name
        self.last = 0

    def peek(self):
        """``(line number, tokens)`` of the next non-blank line without consuming it, or ``None``."""
        return self._ahead

    def take(self, count: int, what: str) -> list:
        """Consume the next line; it must hold ``count`` finite numbers."""
        if self._ahead is None:
            raise ParseError(self.name, self.last + 1, f"unexpected end of file: expected {what} (truncated file)")
        number, tokens = self._ahead
        self._ahead = next(self._lines, None)
        self.last = number
        if len(tokens) != count:
            plural = "value" if len(tokens) == 1 else "values"
            raise ParseError(self.name, number, f"{what}: {len(tokens)} {plural}, expected {count}")
        for token in tokens:
            problem = number_problem(token)
            if problem:
                raise ParseError(self.name, number, f"{what}: {problem}")
        return tokens

    def take_count(self, what: str) -> int:
        """Consume a line holding one non-negative integer."""
        (token,) = self.take(1, what)
        value = float(token)
        if value < 0 or not value.is_integer():
            raise ParseError(self.name, self.last, f"{what} must be a non-negative integer, got {token.decode()!r}")
        return int(value)


def _diagnose(data: bytes, name: str) -> ParseError | None:
    """Read the file line by line and return the ``ParseError`` of its first problem."""
    lines = _Lines(data, name)
    try:
        frames = lines.take_count("frame count")
        for f in range(1, frames + 1):
            if lines.peek() is None:
                return ParseError(name, 1, f"frame count {frames} on line 1, but the file ends after {f - 1} frames "
                                           "(wrong frame count or truncated file)")
            _read_frame(lines, f"frame {f} of {frames}")
        if lines.peek() is not None:
            return ParseError(name, lines.peek()[0], f"trailing data after the {frames} frames announced on line 1 "
                                                     "(wrong frame count?)")
    except ParseError as error:
        return error
    return None


def _read_frame(lines: _Lines, frame: str) -> None:
    """Check one frame: body count, then per body the info line, joint count and joint lines."""
    bodies = lines.take_count(f"{frame}: body count")
    for b in range(1, bodies + 1):
        where = f"{frame}, body {b}"
        body_id = lines.take(INFO_VALUES, f"{where}: body info line")[0]
        if not body_id.isdigit() or int(body_id) > _UINT64_MAX:
            raise ParseError(lines.name, lines.last,
                             f"{where}: bodyID {body_id.decode()!r} is not an unsigned 64-bit integer")
        joints = lines.take_count(f"{where}: joint count")
        if joints != NUM_JOINTS:
            raise ParseError(lines.name, lines.last, f"{where}: joint count is {joints}, expected {NUM_JOINTS}")
        for j in range(1, NUM_JOINTS + 1):
            lines.take(JOINT_VALUES, f"{where}, joint {j}")
