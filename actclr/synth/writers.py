"""Text formats of the raw datasets: NTU ``.skeleton`` and PKU-MMD skeleton/label ``.txt``.

Numbers are formatted by one ``%`` operation per file over a template built for that file,
which is much faster than formatting value by value.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from actclr.skeleton import NUM_JOINTS

from .body import leaves

#: Pinhole intrinsics (focal px, cx, cy) of the Kinect v2 depth (512x424) and colour (1920x1080) images.
DEPTH_CAMERA = (365.0, 256.0, 212.0)
COLOR_CAMERA = (1060.0, 960.0, 540.0)
COLOR_BASELINE_M = 0.052          # the colour sensor sits beside the depth sensor


@dataclass(frozen=True)
class TrackedBody:
    """One body of an NTU file: ``body_id`` and, from frame ``first`` on, ``joints (n, 25, 12)``
    (the 12 joint-line columns) and ``lean (n, 2)``."""

    body_id: int
    first: int
    joints: np.ndarray
    lean: np.ndarray


def kinect_columns(xyz: np.ndarray, quats: np.ndarray, tracking: np.ndarray) -> np.ndarray:
    """The 12 joint-line values ``(..., 25, 12)``: x y z, depth px, colour px, orientation
    (w x y z; zero for leaf joints, which the Kinect does not orient) and tracking state."""
    x, y, z = np.moveaxis(xyz, -1, 0)
    z = np.maximum(z, 0.1)
    f, cx, cy = DEPTH_CAMERA
    depth = (cx + f * x / z, cy - f * y / z)
    f, cx, cy = COLOR_CAMERA
    color = (cx + f * (x + COLOR_BASELINE_M) / z, cy - f * y / z)
    quats = quats.copy()
    quats[..., list(leaves()), :] = 0.0
    return np.concatenate((xyz, np.stack(depth + color, axis=-1), quats, tracking[..., None]), axis=-1)


@cache
def _joint_lines(newline: str) -> str:
    return ("%.7G " * 11 + "%d" + newline) * NUM_JOINTS


def ntu_text(frames: int, bodies: list, crlf: bool = False) -> bytes:
    """An NTU ``.skeleton`` file of ``frames`` frames; each frame lists the ``TrackedBody``s present
    in it, in list order. Floats use 7 significant digits with a capital ``E`` exponent, as the
    official files do."""
    nl = "\r\n" if crlf else "\n"
    joints = _joint_lines(nl)
    by_frame: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(frames)]
    for b, body in enumerate(bodies):
        rows = np.concatenate((body.lean, body.joints.reshape(len(body.joints), -1)), axis=1)
        for row, values in enumerate(rows):
            by_frame[body.first + row].append((b, values))
    heads = [f"{body.body_id} 0 1 1 1 1 0 %.7G %.7G 2{nl}25{nl}{joints}" for body in bodies]
    template, numbers = [f"{frames}{nl}"], []
    for present in by_frame:
        template.append(f"{len(present)}{nl}")
        for b, values in present:
            template.append(heads[b])
            numbers.append(values)
    numbers = (np.concatenate(numbers) + 0.0).tolist() if numbers else []
    return ("".join(template) % tuple(numbers)).encode("ascii")


def pkummd_skeleton_text(xyz: np.ndarray) -> bytes:
    """A PKU-MMD skeleton file from ``(T, 2, 25, 3)``: one line of 150 values per frame, 6 decimals,
    body 2 written as zeros where absent."""
    flat = xyz.reshape(len(xyz), -1) + 0.0
    line = " ".join(["%.6f"] * flat.shape[1]) + "\n"
    return ((line * len(flat)) % tuple(flat.ravel().tolist())).encode("ascii")


def pkummd_label_text(rows: list) -> bytes:
    """A PKU-MMD label file from ``(label, start, end, confidence)`` tuples (as written)."""
    return "".join(f"{label},{start},{end},{confidence}\n" for label, start, end, confidence in rows).encode("ascii")
