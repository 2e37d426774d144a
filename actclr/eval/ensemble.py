"""Multi-stream ensemble: a weighted sum of per-stream test logits (official ``ensemble_ntu_cv.py``).

The official script adds the linear classifiers' raw logits (not softmax probabilities) with
weights joint 0.6, bone 0.6, motion 0.4 and takes the argmax. The runs must score the same test
samples in the same order (checked on ``keys.txt``) with the same labels and class count.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actclr.eval.metrics import classification_metrics
from actclr.eval.outputs import Stopwatch, read_metrics, write_run

#: Official weights per stream (``ensemble_ntu_cv.py``; the ``AimCLR/`` copy uses motion 0.8).
STREAM_WEIGHTS = {"joint": 0.6, "bone": 0.6, "motion": 0.4}


class EnsembleError(ValueError):
    """The runs cannot be ensembled as asked (not the same test samples, or weights that do not fit)."""

    exit_code = 2


@dataclass(frozen=True)
class StreamRun:
    """The test outputs of one linear/fine-tune run."""

    path: Path
    metrics: dict
    logits: np.ndarray  # (N, C) float32
    keys: list
    labels: np.ndarray  # (N,) int64

    @property
    def stream(self) -> str | None:
        return self.metrics.get("stream")


def load_run(run: str | os.PathLike) -> StreamRun:
    """Read ``metrics.json``, ``logits.npy``, ``keys.txt`` and ``labels.npy`` of a run directory."""
    run = Path(run)
    metrics = read_metrics(run)
    for name in ("logits.npy", "keys.txt", "labels.npy"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run / name}: missing (run {metrics.get('command')!r} saved no test logits)")
    logits = np.load(run / "logits.npy", allow_pickle=False)
    keys = (run / "keys.txt").read_text().splitlines()
    labels = np.load(run / "labels.npy", allow_pickle=False)
    if logits.ndim != 2 or logits.shape[0] != len(keys) or labels.shape != (len(keys),):
        raise ValueError(f"{run}: logits {logits.shape}, {len(keys)} keys and labels {labels.shape} disagree")
    return StreamRun(run, metrics, logits, keys, labels)


def check_aligned(runs: Sequence[StreamRun]) -> None:
    """Raise ``ValueError`` unless every run has the first run's keys (same order), labels and classes."""
    if len(runs) < 2:
        raise ValueError("an ensemble needs at least two runs")
    first = runs[0]
    for run in runs[1:]:
        if run.keys != first.keys:
            if sorted(run.keys) == sorted(first.keys):
                raise ValueError(f"{run.path}: same test keys as {first.path} but in another order")
            missing = len(set(first.keys) - set(run.keys))
            extra = len(set(run.keys) - set(first.keys))
            raise ValueError(f"{run.path}: test keys differ from {first.path} ({missing} missing, {extra} extra)")
        if run.logits.shape[1] != first.logits.shape[1]:
            raise ValueError(f"{run.path}: {run.logits.shape[1]} classes, {first.path} has {first.logits.shape[1]}")
        if not np.array_equal(run.labels, first.labels):
            raise ValueError(f"{run.path}: test labels differ from {first.path}")


def default_weights(runs: Sequence[StreamRun]) -> list:
    """The official weight of each run's stream."""
    unknown = [str(r.path) for r in runs if r.stream not in STREAM_WEIGHTS]
    if unknown:
        raise ValueError(f"no default weight for the stream of {', '.join(unknown)}; pass --weights")
    return [STREAM_WEIGHTS[r.stream] for r in runs if r.stream is not None]  # all known (checked above)


def weighted_logits(logits: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``sum_i weights[i] * logits[i]`` -> ``(N, C)`` float64."""
    if len(logits) != len(weights):
        raise ValueError(f"{len(logits)} runs but {len(weights)} weights")
    total = sum(float(w) * np.asarray(x, dtype=np.float64) for w, x in zip(weights, logits))
    assert isinstance(total, np.ndarray), "no logits to combine"
    return total


def ensemble_name(streams: Sequence[str | None]) -> str:
    """What an ensemble of runs of ``streams`` combines: ``3s`` when every run is another stream (the
    paper's 3s-ActCLR: joint, motion and bone), else the streams with their counts (``joint x2``)."""
    names = [str(s) for s in streams]
    if len(set(names)) == len(names):
        return f"{len(names)}s"
    counts = Counter(names)
    return "+".join(name if counts[name] == 1 else f"{name} x{counts[name]}" for name in counts)


def ensemble_runs(runs: Sequence[StreamRun], weights: Sequence[float] | None = None) -> tuple[dict, np.ndarray]:
    """``(results, logits)`` of the weighted ensemble: classification metrics plus the members."""
    check_aligned(runs)
    weights = list(weights) if weights is not None else default_weights(runs)
    logits = weighted_logits([r.logits for r in runs], weights)
    results = classification_metrics(logits, runs[0].labels, logits.shape[1])
    results["members"] = [{"run": str(r.path), "stream": r.stream, "weight": w,
                           "top1": r.metrics.get("top1")} for r, w in zip(runs, weights)]
    return results, logits


def ensemble_run(runs: Sequence[str | os.PathLike], out: str | os.PathLike,
                 weights: Sequence[float] | None = None) -> dict:
    """``actclr-train ensemble``: ensemble the test logits of ``runs`` into ``out`` (``metrics.json``,
    ``summary.md``, logits, keys, labels); returns the ``metrics.json`` content.
    :class:`EnsembleError` if the runs do not score the same test samples or ``weights`` do not fit."""
    clock = Stopwatch()
    members = [load_run(run) for run in runs]
    try:
        results, logits = ensemble_runs(members, weights)
    except ValueError as err:
        raise EnsembleError(str(err)) from None
    first = members[0].metrics
    streams = "+".join(str(m.stream) for m in members)
    combined = ensemble_name([m.stream for m in members])
    names = sorted({(m.metrics.get("encoder") or {}).get("name") for m in members}, key=str)
    encoder = {"name": "+".join(map(str, names)), "source": [str(m.path) for m in members]}
    data = first.get("data", {})
    title = f"ensemble {combined} ({streams}) on {data.get('name')}/{data.get('benchmark')}"
    metrics = {"command": "ensemble", "title": title,
               "wall_time_s": clock.elapsed, "encoder": encoder, "data": data, "stream": streams,
               "knobs": {"weights": [m["weight"] for m in results["members"]], "runs": [str(r) for r in runs]},
               "headline": {f"{combined} top-1": results["top1"]},
               "notes": [f"{m['stream']} x {m['weight']:g} (top-1 {m['top1']:.2f})" for m in results["members"]
                         if m["top1"] is not None], **results}
    write_run(out, metrics, logits=logits, keys=members[0].keys, labels=members[0].labels)
    return metrics
