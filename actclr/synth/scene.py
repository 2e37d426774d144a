"""Subjects, cameras and sensor noise: turn a motion program into Kinect camera-space joints.

World frame: ``y`` up, floor at ``y = 0``, scene centre at the origin. A camera at yaw ``θ``
stands at ``(d sin θ, h, d cos θ)`` and looks horizontally at the centre; its space is the Kinect
one (``x`` = the sensor's left, ``y`` up, ``z`` away from the sensor). A person with facing yaw
``φ`` looks along ``(sin φ, 0, cos φ)``, i.e. toward the camera at yaw ``φ``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from actclr.skeleton import NUM_JOINTS

from .body import bone_offsets, kinematic_tree, pose_body, quat_axis_angle, quat_mul, quat_rotate
from .motions import X, Y, Z

NOISE_M = 0.005           # Gaussian sensor noise per coordinate
INFERRED_RATE = 0.06      # fraction of joints reported as "inferred" (tracking state 1)
INFERRED_NOISE_M = 0.02   # extra noise on inferred joints


@dataclass(frozen=True)
class Camera:
    """A camera at ``yaw`` degrees, ``distance`` metres from the centre, ``height`` metres above
    the floor, looking at the centre; ``pitch`` and ``roll`` (degrees) tilt it about its own
    x and z axes (0: a horizontal camera, as in NTU)."""

    yaw: float
    distance: float
    height: float
    pitch: float = 0.0
    roll: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        """``(4,)`` world -> camera rotation: a yaw of ``180° - θ``, then the tilt."""
        turn = quat_axis_angle(Y, np.radians(180.0 - self.yaw))
        if not (self.pitch or self.roll):
            return turn
        tilt = quat_mul(quat_axis_angle(X, np.radians(self.pitch)), quat_axis_angle(Z, np.radians(self.roll)))
        return quat_mul(tilt, turn)

    @property
    def position(self) -> np.ndarray:
        theta = np.radians(self.yaw)
        return np.array([self.distance * np.sin(theta), self.height, self.distance * np.cos(theta)])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` in camera space."""
        return quat_rotate(self.rotation, points - self.position)


@lru_cache(maxsize=4096)
def subject_body(seed: int, subject: int) -> np.ndarray:
    """``(25, 3)`` bone offsets of a performer: overall scale U(0.85, 1.15) and per-bone length
    factors N(1, 0.04), fixed per (seed, subject) so a performer keeps one body everywhere."""
    rng = np.random.default_rng([seed, 1, subject])
    scale = rng.uniform(0.85, 1.15)
    jitter = np.clip(rng.normal(1.0, 0.04, NUM_JOINTS), 0.9, 1.1)
    offsets = bone_offsets(scale, jitter)
    offsets.flags.writeable = False
    return offsets


def standing_height(offsets: np.ndarray) -> float:
    """Height of the spine base above the floor when standing at rest."""
    parents, order = kinematic_tree()
    rest = np.zeros((NUM_JOINTS, 3))
    for j in order[1:]:
        rest[j] = rest[parents[j]] + offsets[j]
    return float(-rest[:, 1].min() + 0.03)


def perform(rotations: dict, offsets: np.ndarray, frames: int, rng: np.random.Generator,
            facing: float, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World joints ``(T, 25, 3)`` and orientations ``(T, 25, 4)`` of one body.

    ``rotations``: ``{joint: (T, 4)}`` from ``Program.rotations`` (``{}`` stands idle).
    ``facing`` (degrees) gets ±8° jitter; ``position`` is the floor point under the spine base;
    the body sways by a slow random walk of a few mm per frame.
    """
    yaw = np.radians(facing + rng.uniform(-8.0, 8.0))
    root_q = np.broadcast_to(quat_axis_angle(Y, yaw), (frames, 4))
    sway = np.cumsum(rng.normal(0.0, 0.002, (frames, 3)) * (1.0, 0.2, 1.0), axis=0)
    root = np.asarray(position, float) + (0.0, standing_height(offsets), 0.0) + sway
    return pose_body(offsets, rotations, root_q, root)


def observe(camera: Camera, positions: np.ndarray, orientations: np.ndarray, rng: np.random.Generator):
    """What the sensor reports for world joints ``(..., 25, 3)`` / orientations ``(..., 25, 4)``:
    camera-space positions with noise, camera-space orientations and tracking states (2 tracked,
    1 inferred with extra noise)."""
    xyz = camera.to_camera(positions) + rng.normal(0.0, NOISE_M, positions.shape)
    inferred = rng.random(positions.shape[:-1]) < INFERRED_RATE
    xyz += inferred[..., None] * rng.normal(0.0, INFERRED_NOISE_M, positions.shape)
    quats = quat_mul(camera.rotation, orientations)
    return xyz, quats, np.where(inferred, 1, 2)


def furniture(camera: Camera, frames: int, rng: np.random.Generator) -> np.ndarray:
    """``(frames, 25, 3)`` camera-space joints of a spurious "body": a wide, flat, still shape
    (a table top tracked as a person), as in noisy NTU samples."""
    centre = np.array([rng.uniform(-1.0, 1.0), rng.uniform(0.4, 0.8), rng.uniform(-1.0, 1.0)])
    spread = np.stack((rng.uniform(-0.5, 0.5, NUM_JOINTS), rng.uniform(-0.03, 0.03, NUM_JOINTS),
                       rng.uniform(-0.25, 0.25, NUM_JOINTS)), axis=1)
    still = camera.to_camera(centre + spread)
    return still + rng.normal(0.0, NOISE_M, (frames, NUM_JOINTS, 3))
