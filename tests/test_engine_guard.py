"""The collapse guard's verdicts on synthetic phase histories (``actclr.engine.guard``)."""
from __future__ import annotations

import pytest

from actclr.engine.guard import GuardLimits, PhaseSignals, best_reading, judge, kept_epoch, phase_signals, stopped_note

KNN = "knn_top1@5"


def rows(phase: str, first: int, cosines: list, knn: dict, start: float | None = None) -> list:
    """Epoch rows as the trainer logs them: monitor readings on the epochs in ``knn``."""
    out = []
    for i, cosine in enumerate(cosines):
        epoch = first + i
        row = {"epoch": epoch, "phase": phase, "key_cosine": cosine}
        if epoch in knn:
            row[KNN] = knn[epoch]
        out.append(row)
    if start is not None:
        out[0]["start_" + KNN] = start
    return out


def verdicts(history: list) -> list:
    """The verdict after every epoch of ``history`` (as the trainer judges it, epoch by epoch)."""
    return [judge(phase_signals(history[:n], history[-1]["phase"], KNN)) for n in range(1, len(history) + 1)]


#: A healthy ActCLR phase after a warm-up (the demo's seed 0 on its tuning data): key cosine
#: 0.80-0.85, the monitor noisy (one query is ~3-5 points) but above the start.
HEALTHY = rows("main", 51, [0.80, 0.83, 0.85, 0.84, 0.82, 0.84, 0.85, 0.83, 0.84, 0.85],
               {52: 49.0, 54: 45.0, 56: 52.0, 58: 50.0, 60: 55.0}, start=47.0)
#: The collapse of issue 15: the monitor climbs to 47 in the warm-up and falls to 24 in ActCLR
#: while the mean key cosine rises 0.80 -> 0.94.
COLLAPSE = rows("main", 51, [0.80, 0.83, 0.86, 0.88, 0.90, 0.91, 0.92, 0.93, 0.94, 0.94],
                {52: 45.0, 54: 40.0, 56: 33.0, 58: 28.0, 60: 24.0}, start=47.0)


def test_a_healthy_phase_never_triggers():
    assert not any(v.collapsing for v in verdicts(HEALTHY))


def test_the_collapse_of_issue_15_triggers_once_both_signals_fire():
    result = verdicts(COLLAPSE)
    assert result[-1].collapsing
    assert any("key cosine rose from 0.800 to 0.940" in r for r in result[-1].reasons)
    assert any("24.0 is 23.0 points below the phase start 47.0" in r for r in result[-1].reasons)
    first = next(i for i, v in enumerate(result) if v.collapsing)
    # epoch 56: kNN 33 (14 below the start) and key cosine 0.86 (+0.06): both fired
    assert COLLAPSE[first]["epoch"] == 56
    assert not any(v.collapsing for v in result[:first])
    assert str(result[-1]).startswith("collapsing: ")


def test_one_signal_alone_is_not_a_collapse():
    dip = rows("main", 1, [0.85, 0.85, 0.86, 0.85], {2: 30.0, 4: 35.0}, start=45.0)  # monitor noise
    tighter = rows("main", 1, [0.70, 0.75, 0.80, 0.85], {2: 50.0, 4: 55.0}, start=45.0)  # kNN rises
    for history in (dip, tighter):
        verdict = verdicts(history)[-1]
        assert not verdict.collapsing and len(verdict.reasons) == 1


def test_without_the_monitor_the_key_cosine_decides_near_one():
    collapsed = rows("main", 1, [0.85, 0.95, 0.999], {})
    tighter = rows("main", 1, [0.85, 0.90, 0.95], {})
    assert verdicts(collapsed)[-1].collapsing
    assert not any(v.collapsing for v in verdicts(tighter))
    strict = GuardLimits(cosine_high=0.9)
    assert judge(phase_signals(tighter, "main", KNN), strict).collapsing


def test_the_demo_seed_that_collapsed_triggers():
    """Demo seed 2 (docs/evaluation.md): warm-up stuck near chance, then the ActCLR phase takes
    the test embeddings to cosine 0.999 and the encoder below the untrained one."""
    history = rows("main", 51, [0.86, 0.93, 0.97, 0.99, 0.995, 0.998, 0.999, 0.999, 0.999, 0.999],
                   {52: 30.0, 54: 20.0, 56: 17.0, 58: 17.0, 60: 14.0}, start=33.0)
    assert verdicts(history)[-1].collapsing


def test_a_phase_that_starts_with_coinciding_keys_and_loses_the_monitor_triggers():
    """Measured on the tuning data (docs/training.md): the ActCLR phase of the demo recipe starts
    with SAFP keys at cosine 0.99 (no rise within the phase) and the monitor falls 52 -> 24."""
    flat_high = rows("main", 51, [0.987, 0.993, 0.991, 0.991, 0.993], {52: 38.1, 54: 23.8}, start=52.4)
    result = verdicts(flat_high)
    assert [v.collapsing for v in result] == [False, True, True, True, True]
    assert "key cosine 0.993 (keys nearly coincide)" in result[1].reasons
    below = rows("main", 51, [0.95, 0.96, 0.95], {52: 38.1}, start=52.4)  # high-ish, flat: only kNN fired
    assert not verdicts(below)[-1].collapsing


def test_signals_come_from_the_last_phase_and_its_start_reading():
    history = rows("warmup", 1, [0.97, 0.95], {2: 40.0}, start=30.0) + COLLAPSE
    signals = phase_signals(history, "main", KNN)
    assert signals.epochs[0] == 51 and signals.start_knn == 47.0 and len(signals.epochs) == 10
    warm = phase_signals(history[:2], "warmup", KNN)
    assert warm.start_knn == 30.0 and warm.knn == (None, 40.0)
    assert phase_signals(history, "warmup", KNN).epochs == ()  # the warm-up is not the last phase
    assert not judge(PhaseSignals((), (), ())).collapsing


@pytest.mark.parametrize("history, best", [
    (HEALTHY, (60, 55.0)),
    (COLLAPSE, (50, 47.0)),  # the phase start (epoch 50, before the first) is the best
    (rows("main", 1, [0.8, 0.8, 0.8, 0.8], {2: 40.0, 4: 40.0}), (2, 40.0)),  # earliest on ties
    (rows("main", 1, [0.8], {}), None),
])
def test_best_reading(history, best):
    assert best_reading(phase_signals(history, "main", KNN)) == best


def test_the_stopped_note_names_the_kept_epoch():
    verdict = "collapsing: key cosine rose from 0.746 to 0.871" + stopped_note(50)
    assert verdict.endswith("; stopped the phase, kept epoch 50")
    assert kept_epoch(verdict) == 50 and kept_epoch(stopped_note(0)) == 0
    assert kept_epoch("collapsing: key cosine rose from 0.746 to 0.871") is None and kept_epoch("ok") is None
