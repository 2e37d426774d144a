"""Plain records produced by the raw parsers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawSkeleton:
    """One sample as read from a raw file, before any normalization.

    - ``key``: sample name (``S001C001P001R001A001``, ``A10N08-L_003``).
    - ``xyz``: ``(T, S, 25, 3)`` float32 camera-space metres; body slot ``s`` of frame ``t`` is the
      ``s``-th body listed in that frame (file order), zeros where the frame has fewer bodies.
      ``S`` is the largest body count of any frame; a file whose frames all list 0 bodies has
      ``S == 0`` (and keeps its ``T`` frames).
    - ``body_ids``: ``(T, S)`` uint64 tracking IDs (0 = empty slot). PKU-MMD has no IDs: its two
      columns get IDs 1 and 2 where the body is non-zero.
    - ``meta``: per-format fields (NTU: ``setup camera subject replication label``; PKU-MMD:
      ``label video start end camera subject``), ``label`` 0-based.
    """

    key: str
    xyz: np.ndarray
    body_ids: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def num_bodies(self) -> int:
        """Distinct non-zero body IDs seen in the sample."""
        ids = np.unique(self.body_ids)
        return int(np.count_nonzero(ids))

    @property
    def is_empty(self) -> bool:
        """True when no frame holds a body ("no skeleton" files, 0-frame files)."""
        return not bool(np.any(self.body_ids))


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
