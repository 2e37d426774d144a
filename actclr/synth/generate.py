"""``generate``: write a synthetic raw dataset in the real file formats, with its ground truth."""
from __future__ import annotations

import json
import numbers
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from actclr import registry

from .layout import ntu_plan, pkummd_plan
from .motions import MAX_CLASSES, program
from .output import RawWriter, write_atomic
from .render import render_ntu, render_pkummd

NTU_FOLDER = "nturgb+d_skeletons"
GROUND_TRUTH = "ground_truth.json"


def class_labels(spec, classes: int | Iterable[int] | None) -> list[int]:
    """0-based labels to generate: all classes (``None``), the first ``N`` (an int), or the given labels."""
    limit = min(spec.num_classes, MAX_CLASSES)
    labels = list(range(limit)) if classes is None else (
        list(range(classes)) if isinstance(classes, (int, numbers.Integral)) else sorted(set(int(c) for c in classes)))
    if not labels or labels[0] < 0 or labels[-1] >= limit:
        raise ValueError(f"{spec.name}: classes must be 1..{limit} classes with labels in 0..{limit - 1}, "
                         f"got {classes!r}")
    return labels


def _ntu_archive(spec, setup: int) -> str:
    """The official archive of ``spec`` that holds ``setup`` (from the names ``..._sAAA_to_sBBB.zip``)."""
    for name in spec.raw["archives"]:
        match = re.search(r"s(\d{3})_to_s(\d{3})", name)
        assert match is not None, f"registry archive name {name!r} has no setup range"
        low, high = map(int, match.groups())
        if low <= setup <= high:
            return name
    raise ValueError(f"no {spec.name} archive holds setup {setup}")


def _write_ntu(spec, labels, per_class, seed, rng, writer, truth, rates, nuisance, tilt) -> dict:
    frames = 0
    plans = ntu_plan(spec, labels, per_class, rng, *rates)
    for plan in plans:
        data, n = render_ntu(plan, seed, nuisance, tilt)
        writer.write(f"{NTU_FOLDER}/{plan.name}.skeleton", data, _ntu_archive(spec, plan.setup))
        frames += n
        if plan.empty:
            truth["empty_files"].append(plan.name)
        if plan.spurious:
            truth["spurious_body_files"].append(plan.name)
    return {"files": len(plans), "samples": len(plans) - len(truth["empty_files"]), "frames": frames}


def _write_pkummd(spec, labels, per_class, seed, rng, writer, truth) -> dict:
    skeleton_dir, label_dir = spec.raw["skeleton_dir"], spec.raw["label_dir"]
    plans = pkummd_plan(spec, labels, per_class, rng)
    frames = 0
    for plan in plans:
        skeleton, label_rows, n = render_pkummd(plan, seed, set(spec.two_person), truth["frame_convention"])
        writer.write(f"{skeleton_dir}/{plan.name}.txt", skeleton, f"{skeleton_dir}.zip")
        writer.write(f"{label_dir}/{plan.name}.txt", label_rows, f"{label_dir}.zip")
        frames += n
    return {"files": 2 * len(plans), "videos": len(plans), "samples": sum(len(p.labels) for p in plans),
            "frames": frames}


def generate(out_dir: str | Path, dataset: str, classes: int | Iterable[int] | None = None, per_class: int = 8,
             seed: int = 0, *, archives: bool = False, empty_rate: float = 0.01, spurious_rate: float = 0.03,
             force: bool = False, nuisance: float = 0.0, tilt: float = 0.0) -> dict:
    """Write a synthetic ``dataset`` (``ntu60``, ``ntu120``, ``pkummd1``, ``pkummd2``) into ``out_dir``.

    NTU: ``nturgb+d_skeletons/<name>.skeleton`` (or the registry's official archives with
    ``archives=True``), ``per_class`` samples per class plus ``ceil(empty_rate * n)`` empty files;
    ``ceil(spurious_rate * n)`` samples carry a short spurious third body. PKU-MMD: videos under
    the registry's skeleton and label folders (or ``<folder>.zip``), ``per_class`` labelled instances
    per class. ``nuisance`` (NTU only, default 0 = off) is the difficulty knob: every sample also
    performs a random body-part motion on joints its class leaves still, with that fraction of the
    part's class amplitude, so "something moves" no longer identifies the class. ``tilt`` (NTU
    only, degrees, default 0) tilts the camera of every sample by a pitch and a roll drawn
    uniformly from ``[-tilt, tilt]``: a viewpoint nuisance that the ``stgcn50`` profile's
    y-rotation does not remove and the rotation augmentation covers.
    ``ground_truth.json`` is written beside them last. Same arguments, same bytes.
    Returns a summary dict.
    """
    spec = registry.get_dataset(dataset)
    labels = class_labels(spec, classes)
    if per_class < 2:
        raise ValueError("per_class must be at least 2 (a training and a test sample of every class)")
    for knob, value in (("nuisance", nuisance), ("tilt", tilt)):
        if value < 0 or (value > 0 and spec.format != "ntu"):
            raise ValueError(f"{knob} must be >= 0 and is implemented for NTU datasets only, got {value} "
                             f"for {dataset}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} is not empty (force it to write into it anyway)")
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 0])
    two_person = set(spec.two_person)
    truth: dict[str, Any] = {
        "dataset": dataset, "seed": seed, "nuisance": nuisance, "tilt": tilt,
        "classes": {str(label0): {"name": spec.class_names[label0], "program": program(label0).name,
                                  "moving_joints": list(program(label0).moving_joints),
                                  "two_person": label0 + 1 in two_person} for label0 in labels},
        "empty_files": [], "spurious_body_files": [],
    }
    if spec.format == "pkummd":
        truth["frame_convention"] = "aimclr"
    with RawWriter(out, archives) as writer:
        if spec.format == "ntu":
            counts = _write_ntu(spec, labels, per_class, seed, rng, writer, truth, (empty_rate, spurious_rate),
                                nuisance, tilt)
        else:
            counts = _write_pkummd(spec, labels, per_class, seed, rng, writer, truth)
        written = writer.close()
    write_atomic(out / GROUND_TRUTH, (json.dumps(truth, indent=1) + "\n").encode())
    seconds = time.perf_counter() - started
    return {"dataset": dataset, "out_dir": str(out), "classes": len(labels), "per_class": per_class, **counts,
            "empty_files": len(truth["empty_files"]), "spurious_body_files": len(truth["spurious_body_files"]),
            "archives": [str(p) for p in written], "seconds": round(seconds, 3),
            "files_per_minute": round(60 * counts["files"] / max(seconds, 1e-9))}
