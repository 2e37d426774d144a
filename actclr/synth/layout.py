"""Which synthetic files to write: sample names / videos chosen so that every benchmark split of
the dataset has training and test samples of every class.

For each class, instance 0 is on the test side of every benchmark and instance 1 on the training
side; the others are drawn at random. Split rules come from the registry (``Benchmark.split_of``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from actclr import registry
from actclr.pipelines.sources import missing_list

_SIDES = ("test", "train")
PKUMMD_VIEWS = ("L", "M", "R")


def _side(k: int) -> str | None:
    """Split side forced on the ``k``-th instance of a class (``None``: free)."""
    return _SIDES[k] if k < len(_SIDES) else None


def _fits(spec, values: dict, side: str | None) -> bool:
    """True when a sample with manifest ``values`` is on ``side`` of every benchmark."""
    return side is None or all(b.split_of(values[b.field]) == side for b in spec.benchmarks.values())


@dataclass(frozen=True)
class NtuPlan:
    """One NTU file to write. ``empty``: ``None``, ``"no frames"`` or ``"no bodies"``."""

    label0: int
    setup: int
    camera: int
    subject: int
    replication: int
    two_person: bool
    empty: str | None = None
    spurious: bool = False

    @property
    def name(self) -> str:
        return (f"S{self.setup:03d}C{self.camera:03d}P{self.subject:03d}"
                f"R{self.replication:03d}A{self.label0 + 1:03d}")


def _ntu_setups(spec, label0: int) -> list:
    """Setups that hold class ``label0``: NTU60's setups hold its classes, later setups the rest."""
    base = registry.get_dataset("ntu60")
    base_low, base_high = base.raw["setups"]
    low, high = spec.raw["setups"]
    if label0 < base.num_classes:
        return list(range(max(low, base_low), min(high, base_high) + 1))
    return list(range(base_high + 1, high + 1))


def ntu_plan(spec, labels: list, per_class: int, rng: np.random.Generator,
             empty_rate: float, spurious_rate: float) -> list[NtuPlan]:
    """``per_class`` samples of every label, plus ``ceil(empty_rate * n)`` extra empty files
    and ``ceil(spurious_rate * n)`` samples with a spurious body, each spread over classes."""
    subjects = sorted(set(spec.benchmarks["xsub"].train) | set(spec.benchmarks["xsub"].test))
    taken = set(missing_list(spec.name))
    two_person = set(spec.two_person)

    def draw(label0: int, side: str | None, **extra) -> NtuPlan:
        setups = _ntu_setups(spec, label0)
        for _ in range(10_000):
            values: dict[str, Any] = {"setup": int(rng.choice(setups)), "camera": int(rng.integers(1, 4)),
                                      "subject": int(rng.choice(subjects)), "replication": int(rng.integers(1, 3))}
            plan = NtuPlan(label0=label0, two_person=label0 + 1 in two_person, **values, **extra)
            if _fits(spec, values, side) and plan.name not in taken:
                taken.add(plan.name)
                return plan
        raise ValueError(f"cannot find a free sample name for class {label0} (too many samples per class?)")

    plans = [draw(label0, _side(k)) for label0 in labels for k in range(per_class)]
    order = [int(i) for i in rng.permutation(len(labels))]
    spurious = set()
    for i in range(math.ceil(spurious_rate * len(plans))):
        label0 = labels[order[i % len(order)]]
        free = [j for j, p in enumerate(plans) if p.label0 == label0 and j not in spurious]
        if free:
            spurious.add(int(rng.choice(free)))
    plans = [replace(p, spurious=True) if j in spurious else p for j, p in enumerate(plans)]
    kinds = ("no frames", "no bodies")
    empties = [draw(labels[order[i % len(order)]], None, empty=kinds[i % 2])
               for i in range(math.ceil(empty_rate * len(plans)))]
    return plans + empties


@dataclass(frozen=True)
class PkuVideoPlan:
    """One PKU-MMD video: its name, camera (L/M/R = 1/2/3), subject (part II) and the classes of
    its action instances in temporal order."""

    name: str
    camera: int
    subject: int | None
    labels: tuple


def _pkummd_videos(spec) -> list[dict]:
    """Every video name the dataset can have, with its manifest values."""
    views = PKUMMD_VIEWS
    videos = []
    if spec.raw["part"] == 1:
        for video_id in range(2, 365):
            for view in views:
                videos.append({"video": f"{video_id:04d}-{view}", "camera": registry.pkummd_camera(view),
                               "subject": None})
    else:
        xsub = spec.benchmarks["xsub"]
        for subject in sorted(set(xsub.train) | set(xsub.test)):
            for sequence in range(1, 27):
                for view in views:
                    videos.append({"video": f"A{sequence:02d}N{subject:02d}-{view}",
                                   "camera": registry.pkummd_camera(view), "subject": subject})
    return videos


def pkummd_plan(spec, labels: list, per_class: int, rng: np.random.Generator,
                instances_per_video: tuple = (4, 8)) -> list[PkuVideoPlan]:
    """Videos holding ``per_class`` instances of every label, 4-8 instances per video (more when
    a side runs out of video names), classes shuffled within each side."""
    videos = _pkummd_videos(spec)
    groups: dict[str | None, list[int]] = {side: [] for side in (*_SIDES, None)}
    for label0 in labels:
        for k in range(per_class):
            groups[_side(k)].append(label0)
    plans, used = [], set()
    for side, members in groups.items():
        pool = [v for v in videos if _fits(spec, v, side) and v["video"] not in used]
        if members and not pool:
            raise ValueError(f"{spec.name}: no video name is on the {side} side of every benchmark")
        members = [members[i] for i in rng.permutation(len(members))]
        low, high = instances_per_video
        low = max(low, math.ceil(len(members) / max(len(pool), 1)))
        high = max(high, low)
        picks = iter(rng.permutation(len(pool)).tolist())
        start = 0
        while start < len(members):
            size = int(rng.integers(low, high + 1))
            video = pool[next(picks)]
            used.add(video["video"])
            plans.append(PkuVideoPlan(video["video"], video["camera"], video["subject"],
                                      tuple(members[start:start + size])))
            start += size
    return sorted(plans, key=lambda p: p.name)
