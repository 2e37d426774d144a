"""Parse PKU-MMD skeleton videos and label files and cut them into labelled clips.

Frame-index convention (``docs/datasets.md``): label rows are 1-based and inclusive, so row
``label,start,end,confidence`` is the clip of skeleton-file lines ``start .. end`` (1-based), i.e.
0-based frames ``[start - 1, end)``. This is what AimCLR/ActCLR use (``convention="aimclr"``, the
default, because the published ActCLR numbers come from it). MAMP and ViewAdaptiveLSTM read the
numbers as 0-based, end exclusive (``convention="mamp"``): clip ``[start, end)``.
"""
from __future__ import annotations

import re
import warnings
from functools import cache

import numpy as np

from actclr import registry
from actclr.skeleton import NUM_BODIES, NUM_COORDS, NUM_JOINTS, RawSkeleton

from .errors import ParseError
from .text import number_problem, physical_lines, tokenize
from .types import LabelRow

COLUMNS = NUM_BODIES * NUM_JOINTS * NUM_COORDS   # 150 values per line
CONVENTIONS = ("aimclr", "mamp")


def parse_pkummd_skeleton(data: bytes, name: str) -> np.ndarray:
    """A skeleton video as ``(T, 2, 25, 3)`` float32, one frame per line, body-major columns.

    Lines must hold at least 150 finite numbers. Lines with more keep their first 150 (as AimCLR
    slices them) and a ``UserWarning`` says so. Blank lines are allowed only at the end.
    Raises ``ParseError(name, line, reason)``.
    """
    tokens = tokenize(data)
    rows = np.flatnonzero(tokens.line_counts)
    if len(rows) == 0:
        raise ParseError(name, 1, "empty skeleton file (no frames)")
    if rows[-1] != len(rows) - 1:
        blank = int(np.flatnonzero(np.diff(np.concatenate(([-1], rows))) > 1)[0])
        raise ParseError(name, blank + 1, "blank line inside the skeleton data (every line must be one frame)")
    counts = tokens.line_counts[rows]
    values = tokens.values
    if values is None or not np.isfinite(values).all() or counts.min() < COLUMNS:
        raise _diagnose(data, name)
    if counts.max() > COLUMNS:
        warnings.warn(f"{name}: lines hold up to {counts.max()} values; using the first {COLUMNS} of each "
                      "(two bodies x 25 joints x xyz)", stacklevel=2)
    index = tokens.line_first[rows][:, None] + np.arange(COLUMNS)
    return values[index].astype(np.float32).reshape(len(rows), NUM_BODIES, NUM_JOINTS, NUM_COORDS)


def _diagnose(data: bytes, name: str) -> ParseError:
    """The ``ParseError`` of the first line with too few values or a bad value."""
    for number, tokens in physical_lines(data):
        if len(tokens) < COLUMNS:
            return ParseError(name, number, f"{len(tokens)} values, expected {COLUMNS} (2 bodies x 25 joints x xyz)")
        for column, token in enumerate(tokens, 1):
            problem = number_problem(token)
            if problem:
                return ParseError(name, number, f"column {column}: {problem}")
    return ParseError(name, None, "inconsistent skeleton file")


def parse_pkummd_labels(data: bytes, name: str, num_classes: int | None = None) -> list[LabelRow]:
    """Rows ``label,start,end,confidence`` (integers, label 1..num_classes, start <= end).

    ``num_classes`` defaults to the registry's PKU-MMD class count (51). Blank lines are skipped;
    one trailing comma is tolerated. Raises ``ParseError(name, line, reason)``.
    """
    num_classes = num_classes or registry.get_dataset("pkummd1").num_classes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(name, None, f"not a text file ({error})") from None
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 5 and fields[-1] == "":
            fields.pop()
        if len(fields) != 4:
            raise ParseError(name, number, f"{len(fields)} fields, expected 4 (label,start,end,confidence)")
        if not all(re.fullmatch(r"[+-]?\d+", field) for field in fields):
            raise ParseError(name, number, f"fields must be integers, got {line!r}")
        label, start, end, confidence = (int(field) for field in fields)
        if not 1 <= label <= num_classes:
            raise ParseError(name, number, f"label {label} is outside 1..{num_classes}")
        if start < 0 or end < start:
            raise ParseError(name, number, f"bad interval start={start} end={end}")
        rows.append(LabelRow(label0=label - 1, start=start, end=end, confidence=confidence, line=number))
    return rows


def clip_rows(row: LabelRow, convention: str = "aimclr") -> tuple[int, int]:
    """0-based ``[start, end)`` frame range of a label row under ``convention`` (module docstring)."""
    if convention == "aimclr":
        return row.start - 1, row.end
    if convention == "mamp":
        return row.start, row.end
    raise ValueError(f"unknown PKU-MMD frame convention {convention!r}; choose from {CONVENTIONS}")


def file_interval(start: int, end: int, convention: str = "aimclr") -> tuple[int, int]:
    """The label-file ``(start, end)`` numbers of the 0-based clip ``[start, end)``: the inverse of
    ``clip_rows`` (used by the synthetic writer)."""
    if convention == "aimclr":
        return start + 1, end
    if convention == "mamp":
        return start, end
    raise ValueError(f"unknown PKU-MMD frame convention {convention!r}; choose from {CONVENTIONS}")


@cache
def _video_pattern(part: int) -> re.Pattern:
    return re.compile(registry.get_dataset(f"pkummd{part}").file_pattern)


def pkummd_video(name: str, part: int) -> dict | None:
    """Fields of a PKU-MMD file or video name (``0002-L``, ``A10N08-L.txt``) of ``part`` 1 or 2:
    ``video``, ``camera`` (L/M/R = 1/2/3), ``subject`` (part II ``Nyy``; ``None`` in part I);
    ``None`` when the name does not follow the part's scheme."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    match = _video_pattern(part).fullmatch(base if base.endswith(".txt") else base + ".txt")
    if match is None:
        return None
    fields = match.groupdict()
    subject = int(fields["subject"]) if fields.get("subject") else None
    return {"video": fields["video"], "camera": registry.pkummd_camera(fields["view"]), "subject": subject}


def pkummd_clips(video_xyz: np.ndarray, rows: list[LabelRow], video_name: str, part: int, *,
                 label_file: str | None = None, convention: str = "aimclr") -> list[RawSkeleton]:
    """One ``RawSkeleton`` per label row, keyed ``<video>_<row:03d>`` (row = 1-based row index).

    ``video_xyz``: ``(T, 2, 25, 3)``. Each clip has ``xyz (T', 2, 25, 3)`` (a copy) and
    ``body_ids (T', 2)`` = 1 / 2 where that column is non-zero in the frame, else 0.
    ``meta``: ``label video start end camera subject`` with ``[start, end)`` 0-based.
    A row outside the video raises ``ParseError(label_file, row.line, reason)``;
    ``label_file`` defaults to ``<video>.txt``.
    """
    video = pkummd_video(video_name, part)
    if video is None:
        raise ParseError(video_name, None, f"not a PKU-MMD part {part} video name")
    label_file = label_file or f"{video['video']}.txt"
    frames = len(video_xyz)
    clips = []
    for index, row in enumerate(rows, 1):
        start, end = clip_rows(row, convention)
        if start < 0 or end > frames or start >= end:
            raise ParseError(label_file, row.line or index,
                             f"label row start={row.start} end={row.end} gives frames [{start}, {end}) "
                             f"({convention} convention), outside the video's {frames} frames")
        xyz = np.array(video_xyz[start:end], dtype=np.float32)
        present = xyz.reshape(len(xyz), NUM_BODIES, -1).any(axis=2)
        body_ids = np.where(present, np.arange(1, NUM_BODIES + 1), 0).astype(np.uint64)
        meta = {"label": row.label0, "video": video["video"], "start": start, "end": end,
                "camera": video["camera"], "subject": video["subject"]}
        clips.append(RawSkeleton(key=f"{video['video']}_{index:03d}", xyz=xyz, body_ids=body_ids, meta=meta))
    return clips
