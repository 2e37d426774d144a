"""Actionlets of a trained encoder: extraction, pictures and a score against synthetic ground truth.

For each sequence the encoder (eval mode) gives its feature map; the actionlet is the
difference activation map against the dataset's average motion (paper Eq. 2-5,
:func:`actclr.methods.actionlet.actionlet_mask`) upsampled to the input frames. Per sample the
result is ``(T, V, M)``; the per-joint mask ``(T, V)`` is the maximum over the bodies present in
the sample.

:func:`actionlet_evaluation` is ``actclr-train actionlet``: masks of test samples (or chosen keys),
``actionlets.h5``, the average-motion picture, one picture per drawn sample and the score.

Score (synthetic data only, where ``ground_truth.json`` lists the joints each class moves):
``share`` = fraction of a sample's mask mass on truly moving joints; ``chance`` = the fraction a
mask spread uniformly over the joints would put there (moving joints / 25); ``lift`` =
mean share / mean chance (1 = no better than chance). A sample whose mask is empty counts at chance.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import Tensor

from actclr.augment import to_stream, upsample_mask
from actclr.data import H5Samples, make_loader, to_device
from actclr.eval.holdout import keys_of, labels_of
from actclr.eval.session import SessionError
from actclr.methods.actclr import ActCLROptions
from actclr.methods.actionlet import actionlet_mask
from actclr.methods.anchor import DatasetAnchor
from actclr.models.encoder import Encoder
from actclr.models.modes import eval_mode
from actclr.skeleton import NUM_JOINTS
from actclr.store import PreparedDataset
from actclr.store.atomic import atomic_path
from actclr.store.manifest import split_rows


@dataclass(frozen=True)
class MaskOptions:
    """How maps become masks; defaults are ActCLR's (paper) method defaults."""

    smoothing: str = ActCLROptions.smoothing
    activation: str = ActCLROptions.activation
    threshold: float | None = ActCLROptions.threshold
    gain: float = ActCLROptions.gain
    grad_activation: str = ActCLROptions.grad_activation


@torch.no_grad()
def actionlets(encoder: Encoder, x: Tensor, anchor: DatasetAnchor, stream: str,
               options: MaskOptions = MaskOptions()) -> Tensor:
    """Actionlets ``(N, T, V, M)`` in [0, 1] of joint positions ``x (N, 3, T, V, M)`` (eval mode)."""
    xs = to_stream(x, stream)
    with eval_mode(encoder):
        anchor_z = encoder.embed(anchor(xs))[0]
        fmap = encoder.feature_map(xs)
    assert encoder.projector is not None, "actionlets need an encoder with a projector"
    mask = actionlet_mask(fmap, encoder.projector, anchor_z, smoothing=options.smoothing,
                          activation=options.activation, threshold=options.threshold, gain=options.gain,
                          grad_activation=options.grad_activation)
    return upsample_mask(mask, x.shape[2]).squeeze(1)


def joint_masks(masks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(N, T, V)``: per-joint maximum over the bodies present in each sample
    (``masks (N, T, V, M)``, joint positions ``x (N, 3, T, V, M)``; a sample with no body keeps body 0)."""
    present = np.any(x != 0, axis=(1, 2, 3))  # (N, M)
    present[~present.any(axis=1), 0] = True
    return np.where(present[:, None, None, :], masks, 0.0).max(axis=3)


def moving_joints_by_class(ground_truth: Mapping) -> dict:
    """``{label: sorted moving joints}`` from a ``ground_truth.json`` mapping (``actclr.synth``)."""
    try:
        return {int(label): sorted(int(j) for j in entry["moving_joints"])
                for label, entry in ground_truth["classes"].items()}
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a synthetic ground truth (classes -> moving_joints): {err}") from None


def read_ground_truth(path: str | os.PathLike) -> dict:
    """``moving_joints_by_class`` of a ``ground_truth.json`` file (errors name the file)."""
    try:
        return moving_joints_by_class(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def mask_share(mask: np.ndarray, moving: Sequence[int]) -> float | None:
    """Share of ``mask (T, V)`` mass on joints ``moving``; ``None`` for an empty mask."""
    total = float(mask.sum())
    if total <= 0:
        return None
    return float(mask[:, list(moving)].sum()) / total


def score_actionlets(masks: np.ndarray, labels: np.ndarray, moving: Mapping[int, Sequence[int]]) -> dict:
    """Share, chance and lift (module docstring) of masks ``(N, T, V)`` with their labels.

    Samples of classes without ground truth are skipped (and counted as ``unscored``).
    """
    shares: list[float] = []
    chances: list[float] = []
    per_class: dict[int, list[float]] = {}
    for mask, label in zip(masks, np.asarray(labels)):
        joints = moving.get(int(label))
        if not joints:
            continue
        chance = len(joints) / mask.shape[1]
        share = mask_share(mask, joints)
        shares.append(chance if share is None else share)
        chances.append(chance)
        per_class.setdefault(int(label), []).append(shares[-1])
    if not shares:
        raise ValueError("no sample has ground truth (are these synthetic data with their ground_truth.json?)")
    share, chance = float(np.mean(shares)), float(np.mean(chances))
    return {"share": share, "chance": chance, "lift": share / chance, "scored": len(shares),
            "unscored": int(len(masks) - len(shares)),
            "per_class_share": {str(c): float(np.mean(v)) for c, v in sorted(per_class.items())}}


def extract_actionlets(encoder: Encoder, h5_path, rows: Sequence[int] | np.ndarray, average_motion: np.ndarray, *,
                       stream: str, device: torch.device, options: MaskOptions = MaskOptions(),
                       batch_size: int = 64, workers: int = 0) -> dict:
    """``{"masks" (N, T, V, M), "joint_masks" (N, T, V), "x" (N, 3, T, V, M), "labels", "keys"}`` of rows."""
    anchor = DatasetAnchor(torch.as_tensor(average_motion), stream).to(device)
    samples = H5Samples(h5_path, rows)
    masks, xs, labels, keys = [], [], [], []
    for batch in make_loader(samples, device, batch_size=batch_size, num_workers=workers):
        x = to_device(batch.x, device)
        masks.append(actionlets(encoder, x, anchor, stream, options).cpu().numpy())
        xs.append(batch.x.numpy())
        labels.append(batch.y.numpy())
        keys.extend(batch.keys)
    masks_np, x_np = np.concatenate(masks), np.concatenate(xs)
    return {"masks": masks_np, "joint_masks": joint_masks(masks_np, x_np), "x": x_np,
            "labels": np.concatenate(labels), "keys": keys}


def write_actionlets(path: str | os.PathLike, extracted: Mapping) -> Path:
    """Save ``masks (N, T, V, M)``, ``joint_masks (N, T, V)``, ``labels`` and ``keys`` to HDF5 (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("masks", data=extracted["masks"].astype(np.float32), compression="gzip")
        f.create_dataset("joint_masks", data=extracted["joint_masks"].astype(np.float32), compression="gzip")
        f.create_dataset("labels", data=np.asarray(extracted["labels"], dtype=np.int64))
        f.create_dataset("keys", data=np.asarray(extracted["keys"], dtype=object), dtype=h5py.string_dtype())
        f.attrs["joints"] = NUM_JOINTS
    return path


def _chosen_rows(dataset: PreparedDataset, benchmark: str, keys: Sequence[str], pictures: int) -> tuple:
    """``(rows to extract, rows to draw)``: the samples named by ``keys`` (both), else the test
    split and its first sample of ``pictures`` classes."""
    manifest = dataset.manifest
    if keys:
        index = {k: i for i, k in enumerate(manifest.column("key").to_pylist())}
        unknown = [k for k in keys if k not in index]
        if unknown:
            raise SessionError(f"{dataset.location}: unknown sample key(s) {', '.join(unknown)}")
        rows = np.array(sorted(index[k] for k in keys), dtype=np.int64)
        return rows, rows
    rows = split_rows(manifest, benchmark, "test")
    labels = labels_of(manifest, rows)
    firsts = [rows[np.flatnonzero(labels == c)[0]] for c in np.unique(labels)]
    return rows, np.array(firsts[:pictures], dtype=np.int64)


def actionlet_evaluation(encoder: Encoder, dataset: PreparedDataset, benchmark: str, out: str | os.PathLike, *,
                         stream: str, device: torch.device, encoder_name: str, keys: Sequence[str] = (),
                         pictures: int = 4, ground_truth: str | os.PathLike | None = None,
                         options: MaskOptions = MaskOptions(), batch_size: int = 64,
                         workers: int = 0) -> tuple[dict, list]:
    """Actionlets of the test split (or of ``keys``) into ``out``; ``(results, notes)`` for ``metrics.json``.

    Writes ``out/actionlets.h5`` (:func:`write_actionlets`), ``out/average_motion.png`` (paper
    Fig. 4) and ``out/actionlet_<key>.png`` (Fig. 5) for ``keys`` or, without them, the first test
    sample of ``pictures`` classes. With ``ground_truth`` (synthetic data) ``results["score"]``
    is :func:`score_actionlets`."""
    from actclr.viz import draw_average_motion, draw_skeleton_strip  # matplotlib only when drawing

    out = Path(out)
    rows, drawn = _chosen_rows(dataset, benchmark, keys, pictures)
    average = dataset.average_motion(benchmark)
    extracted = extract_actionlets(encoder, dataset.h5_path, rows, average, stream=stream, device=device,
                                   options=options, batch_size=batch_size, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    write_actionlets(out / "actionlets.h5", extracted)
    draw_average_motion(average, out / "average_motion.png",
                        title=f"Average motion ({dataset.info.get('name')}/{benchmark} training split)")
    names = dataset.info.get("class_names") or []
    position = {k: i for i, k in enumerate(extracted["keys"])}
    drawn_keys = keys_of(dataset.manifest, drawn)
    for key in drawn_keys:
        i = position[key]
        label = int(extracted["labels"][i])
        title = f"{key}: {names[label] if label < len(names) else label} (actionlet of {encoder_name})"
        draw_skeleton_strip(extracted["x"][i], out / f"actionlet_{key}.png",
                            weights=extracted["masks"][i], title=title)
    results: dict = {"samples": len(extracted["keys"]), "mean_mask": float(extracted["joint_masks"].mean()),
                     "pictures": [f"actionlet_{k}.png" for k in drawn_keys] + ["average_motion.png"]}
    threshold = "none (soft map)" if options.threshold is None else f"{options.threshold:g}"
    notes = [f"masks: smoothing {options.smoothing}, activation {options.activation}, threshold {threshold}"]
    if ground_truth is not None:
        score = score_actionlets(extracted["joint_masks"], extracted["labels"], read_ground_truth(ground_truth))
        results["score"] = score
        notes.append(f"{100 * score['share']:.1f} % of the mask mass on truly moving joints "
                     f"(chance {100 * score['chance']:.1f} %, lift x{score['lift']:.2f})")
    return results, notes
