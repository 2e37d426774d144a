"""The profile contract: a pure function from a parsed ``RawSkeleton`` to model-ready tensors.

A profile turns one parsed sample (``xyz (T, S, 25, 3)``, ``body_ids (T, S)``, see
``actclr.skeleton.RawSkeleton``) into a :class:`Prepared`:

- ``bodies (T', 2, 25, 3)`` float32: the two selected bodies in camera space, before any
  normalization, at the length the profile keeps (what the store saves as the raw sequence);
- ``ready (3, frames, 25, 2)`` float32: the normalized tensor in the model layout ``(C, T, V, M)``.

Profiles are small frozen dataclasses: their fields are the user-settable parameters, and
:attr:`Profile.params` adds the fixed choices so that the recorded dict describes the output fully.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from actclr.skeleton import NUM_COORDS, NUM_JOINTS, RawSkeleton


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Output of :meth:`Profile.apply`.

    ``bodies``: ``(T', 2, 25, 3)`` float32 camera-space bodies; ``ready``: ``(3, frames, 25, 2)`` float32.
    """

    bodies: np.ndarray
    ready: np.ndarray


@dataclasses.dataclass(frozen=True)
class Profile(ABC):
    """Base class of the normalization profiles; subclasses are frozen dataclasses.

    Subclasses set ``name``, declare their parameters as fields (``frames`` is common to all) and
    may extend ``FIXED`` with recorded, non-settable choices.
    """

    name: ClassVar[str]
    FIXED: ClassVar[dict] = {}
    frames: int = 50

    def __post_init__(self) -> None:
        self.require_positive_int("frames")

    def require_positive_int(self, field: str) -> None:
        """Raise ``ValueError`` unless parameter ``field`` is an integer >= 1."""
        value = getattr(self, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"profile {self.name}: {field} must be a positive integer, got {value!r}")

    @property
    def params(self) -> dict[str, Any]:
        """JSON-serialisable description of every choice that shapes the output."""
        return {**dataclasses.asdict(self), **self.FIXED}

    @abstractmethod
    def apply(self, raw: RawSkeleton) -> Prepared:
        """Normalize one sample; raises ``ValueError`` naming ``raw.key`` if it cannot."""


def check_raw(raw: RawSkeleton) -> tuple[np.ndarray, np.ndarray]:
    """Validate a raw sample; return ``xyz (T, S, 25, 3)`` as float32 and ``body_ids (T, S)``."""
    xyz = np.asarray(raw.xyz, dtype=np.float32)
    ids = np.asarray(raw.body_ids)
    if xyz.ndim != 4 or xyz.shape[2:] != (NUM_JOINTS, NUM_COORDS):
        raise ValueError(f"{raw.key}: xyz must have shape (T, S, 25, 3), got {xyz.shape}")
    if ids.shape != xyz.shape[:2]:
        raise ValueError(f"{raw.key}: body_ids shape {ids.shape} does not match xyz {xyz.shape[:2]}")
    if xyz.shape[0] == 0:
        raise ValueError(f"{raw.key}: no frames")
    if not np.isfinite(xyz).all():
        raise ValueError(f"{raw.key}: non-finite joint coordinates")
    return xyz, ids


def to_ready(seq: np.ndarray) -> np.ndarray:
    """``(T, M, V, C)`` -> contiguous float32 ``(C, T, V, M)``."""
    return np.ascontiguousarray(seq.transpose(3, 0, 2, 1), dtype=np.float32)

