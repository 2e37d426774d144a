"""Collapse guard: a verdict on one training phase from the phase's own signals (pure: no torch,
no files).

A contrastive or similarity-mining phase collapses when its embeddings drift together: the mean
cosine between a step's keys (``key_cosine``, logged by every method) climbs, and the kNN monitor
(held-out *training* sequences) falls below where the phase started. The trainer feeds the
phase's epoch rows (``metrics.jsonl`` rows: ``phase``, ``key_cosine``, ``knn_top1@k`` on monitor
epochs, and the phase-start reading ``start_knn_top1@k`` in the phase's first row) to
:func:`judge` after every epoch; the verdict says whether the phase is collapsing and why.

Rules (``GuardLimits``; thresholds and the measurements behind them in ``docs/training.md``,
"Collapse guard"):

* **kNN**: the latest monitor reading is at least ``knn_drop`` points below the phase start;
* **key cosine**: the epoch's mean key cosine is at least ``cosine_rise`` above the phase's first
  epoch (rising), or at least ``cosine_high`` (the keys nearly coincide; a phase may start there,
  e.g. ActCLR's SAFP keys from a weak warm-up).

The kNN signal with either key-cosine signal is a collapse. Without monitor readings
(``monitor.every: 0``) the key cosine alone decides: it must be both rising and high, since a
method may legitimately tighten its embeddings, or start them close.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

GUARD_MODES = ("off", "warn", "stop")
START_PREFIX = "start_"
_STOPPED = "; stopped the phase, kept epoch {epoch}"  # appended to the verdict of a phase ``stop`` ended
_STOPPED_PATTERN = re.compile(re.escape(_STOPPED).replace(r"\{epoch\}", r"(\d+)"))


@dataclass(frozen=True)
class GuardLimits:
    """Thresholds of :func:`judge` (the ``monitor.guard_*`` settings)."""

    knn_drop: float = 10.0
    cosine_rise: float = 0.05
    cosine_high: float = 0.99

    @classmethod
    def from_monitor(cls, monitor: Mapping) -> GuardLimits:
        """Limits from a ``monitor`` config section (``guard_knn_drop``, ``guard_cosine_rise``,
        ``guard_cosine_high``)."""
        return cls(float(monitor["guard_knn_drop"]), float(monitor["guard_cosine_rise"]),
                   float(monitor["guard_cosine_high"]))


@dataclass(frozen=True)
class PhaseSignals:
    """One phase's signals, oldest first: ``epochs``, their mean ``key_cosine``, the monitor
    reading of each epoch (``None`` on epochs without one) and the reading at the phase start."""

    epochs: tuple[int, ...]
    key_cosine: tuple[float | None, ...]
    knn: tuple[float | None, ...]
    start_knn: float | None = None

    def readings(self) -> list[tuple[int, float]]:
        """``(epoch, kNN)`` of the monitor readings, the phase start as epoch ``first - 1``."""
        out = [(self.epochs[0] - 1, self.start_knn)] if self.epochs and self.start_knn is not None else []
        return out + [(e, v) for e, v in zip(self.epochs, self.knn) if v is not None]


@dataclass(frozen=True)
class Verdict:
    """``collapsing`` and the reasons (one short sentence per signal that fired)."""

    collapsing: bool
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        """``ok``, ``watch: <reason>`` (one signal fired) or ``collapsing: <reasons>``."""
        if not self.reasons:
            return "ok"
        return ("collapsing: " if self.collapsing else "watch: ") + "; ".join(self.reasons)


def phase_signals(rows: Sequence[Mapping], phase: str, knn_key: str) -> PhaseSignals:
    """The :class:`PhaseSignals` of the last run of rows of ``phase`` in ``rows`` (epoch rows of
    ``metrics.jsonl``); ``knn_key`` is the monitor column, e.g. ``knn_top1@5``."""
    mine: list[Mapping] = []
    for row in reversed(rows):
        if row.get("phase") != phase:
            break
        mine.insert(0, row)
    if not mine:
        return PhaseSignals((), (), ())
    return PhaseSignals(tuple(int(r["epoch"]) for r in mine), tuple(r.get("key_cosine") for r in mine),
                        tuple(r.get(knn_key) for r in mine), mine[0].get(START_PREFIX + knn_key))


def judge(signals: PhaseSignals, limits: GuardLimits = GuardLimits()) -> Verdict:
    """Is the phase collapsing, judged at its latest epoch? (see the module docstring)."""
    cosines = [c for c in signals.key_cosine if c is not None]
    if not cosines:
        return Verdict(False)
    reasons = []
    rising = len(cosines) > 1 and cosines[-1] - cosines[0] >= limits.cosine_rise
    high = cosines[-1] >= limits.cosine_high
    if rising:
        reasons.append(f"key cosine rose from {cosines[0]:.3f} to {cosines[-1]:.3f}")
    elif high:
        reasons.append(f"key cosine {cosines[-1]:.3f} (keys nearly coincide)")
    readings = signals.readings()
    knn_fired = False
    if signals.start_knn is not None and len(readings) > 1:
        latest = readings[-1][1]
        knn_fired = signals.start_knn - latest >= limits.knn_drop
        if knn_fired:
            reasons.append(f"kNN monitor {latest:.1f} is {signals.start_knn - latest:.1f} points "
                           f"below the phase start {signals.start_knn:.1f}")
    if len(readings) > 1:
        return Verdict(knn_fired and (rising or high), tuple(reasons))
    return Verdict(rising and high, tuple(reasons))


def best_reading(signals: PhaseSignals) -> tuple[int, float] | None:
    """``(epoch, kNN)`` of the phase's best monitor reading (earliest on ties; the phase start
    counts as the epoch before the first), or ``None`` without readings."""
    readings = signals.readings()
    return max(readings, key=lambda r: (r[1], -r[0])) if readings else None


def stopped_note(epoch: int) -> str:
    """What ``guard: stop`` appends to the ``guard`` column of the epoch that ended the phase."""
    return _STOPPED.format(epoch=epoch)


def kept_epoch(verdict: str) -> int | None:
    """The epoch a ``guard`` column says the phase went back to (:func:`stopped_note`), or ``None``."""
    match = _STOPPED_PATTERN.search(verdict)
    return int(match.group(1)) if match else None


def findings(rows: Sequence[Mapping]) -> list[str]:
    """What the guard said in a run's epoch rows (``metrics.jsonl``): per phase, its first
    collapsing epoch and verdict, and whether the phase was stopped; empty for a healthy run."""
    out, seen = [], set()
    for row in rows:
        verdict, phase = str(row.get("guard", "")), row.get("phase")
        if verdict.startswith("collapsing: ") and phase not in seen:
            seen.add(phase)
            out.append(f"phase {phase} collapsing from epoch {row['epoch']}: {verdict.removeprefix('collapsing: ')}")
    return out
