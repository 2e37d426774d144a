"""Plain records produced by the raw parsers (``RawSkeleton`` itself lives in ``actclr.skeleton``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelRow:
    """One row ``label,start,end,confidence`` of a PKU-MMD label file, as written in the file.

    ``label0`` is the 0-based class (file label minus one); ``start``/``end`` are the file's
    numbers unchanged (see ``pipelines.pkummd.clip_rows`` for the convention); ``line`` is the
    1-based line of the row in its file.
    """

    label0: int
    start: int
    end: int
    confidence: int
    line: int = 0
