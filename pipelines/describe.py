"""Summaries of a prepared dataset for ``dataset.json`` and the console: split counts, per-class
counts, benchmark rules, and what was skipped, bad or missing."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from actclr.registry import DatasetSpec
from actclr.store.manifest import SPLITS, split_mask


def split_counts(table: pa.Table, spec: DatasetSpec) -> dict:
    """``{benchmark: {split: number of samples}}``."""
    return {b: {s: int(split_mask(table, b, s).sum()) for s in SPLITS} for b in spec.benchmarks}


def class_counts(table: pa.Table, spec: DatasetSpec) -> dict:
    """``{benchmark: {split: [samples of class 0, 1, ...]}}``."""
    labels = table.column("label").to_numpy()
    return {b: {s: np.bincount(labels[split_mask(table, b, s)], minlength=spec.num_classes).tolist()
                for s in SPLITS} for b in spec.benchmarks}


def benchmark_rules(spec: DatasetSpec) -> dict:
    """The split rule of every benchmark, with where it comes from (``certainty``)."""
    return {name: {"field": b.field, "train": list(b.train), "test": list(b.test), "test_list": b.test_list,
                   "expected": dict(b.expected), "certainty": b.certainty}
            for name, b in spec.benchmarks.items()}


def reason_kind(reason: str) -> str:
    """A short category of a skip reason: ``no skeleton``, ``profile <name>`` or the reason itself."""
    if "no skeleton" in reason:
        return "no skeleton"
    if reason.startswith("profile "):
        return reason.split(":", 1)[0]
    return reason


def skipped_summary(skipped: list) -> dict:
    """``{category: count}`` of ``skipped`` entries (``{"file", "reason"}``), most frequent first."""
    return dict(Counter(reason_kind(entry["reason"]) for entry in skipped).most_common())


def missing_line(missing: dict) -> str | None:
    """One line about a raw tree that is not the whole dataset (``sources.missing_report``), or
    ``None`` if it is complete: ``N of M files of the full dataset`` and the groups with no file."""
    if not missing or missing.get("complete", True):
        return None
    absent = [f"{key.removeprefix('absent_')} with no file: " + ", ".join(str(v) for v in value[:20])
              + (" ..." if len(value) > 20 else "")
              for key, value in missing.items() if key.startswith("absent_") and value]
    return (f"{missing['found']} of {missing['expected']} files of the full dataset (a partial or synthetic raw "
            "tree)" + "".join(f"; {part}" for part in absent))


def bad_lines(bad: list) -> list:
    """``file:line: reason`` for every bad entry."""
    return [f"{b['file']}{'' if b.get('line') is None else ':' + str(b['line'])}: {b['reason']}" for b in bad]
