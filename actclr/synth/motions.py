"""Class motion programs: which joints a class rotates, about which axis, how fast.

Class ``label0`` gets ``program(label0)``: one of ``len(PARTS)`` body-part motions (cycling
fastest, so the first classes all move different joints) combined with a tempo (cycles per
action). Any number of classes up to ``len(PARTS) * len(TEMPOS)`` (140) is covered.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .body import descendants, quat_axis_angle, quat_mul, rest_pose

X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)   # body frame: left, up, forward
SPINE, NECK, L_SHOULDER, L_ELBOW, R_SHOULDER, R_ELBOW = 1, 2, 4, 5, 8, 9
L_HIP, L_KNEE, R_HIP, R_KNEE = 12, 13, 16, 17


@dataclass(frozen=True)
class Driver:
    """A rotation at ``joint`` about body ``axis``: ``sign * (bias + weight * A * wave)`` degrees,
    with ``phase`` (cycles) added to the program's wave."""

    joint: int
    axis: tuple
    sign: float = 1.0
    weight: float = 1.0
    phase: float = 0.0
    bias: float = 0.0


@dataclass(frozen=True)
class Part:
    name: str
    drivers: tuple
    amplitude: float    # degrees


def _part(name: str, amplitude: float, *drivers: Driver) -> Part:
    return Part(name, drivers, amplitude)


PARTS = (
    _part("raise right arm forward", 80, Driver(R_SHOULDER, X, -1)),
    _part("raise left arm forward", 80, Driver(L_SHOULDER, X, -1)),
    _part("raise right arm sideways", 80, Driver(R_SHOULDER, Z, -1)),
    _part("raise left arm sideways", 80, Driver(L_SHOULDER, Z, 1)),
    _part("bend right elbow", 90, Driver(R_ELBOW, X, -1)),
    _part("bend left elbow", 90, Driver(L_ELBOW, X, -1)),
    _part("kick right leg forward", 45, Driver(R_HIP, X, -1)),
    _part("kick left leg forward", 45, Driver(L_HIP, X, -1)),
    _part("lift right leg sideways", 30, Driver(R_HIP, Z, -1)),
    _part("lift left leg sideways", 30, Driver(L_HIP, Z, 1)),
    _part("bend right knee", 70, Driver(R_KNEE, X, 1)),
    _part("bend left knee", 70, Driver(L_KNEE, X, 1)),
    _part("bow", 35, Driver(SPINE, X, 1)),
    _part("lean sideways", 20, Driver(SPINE, Z, 1)),
    _part("twist trunk", 35, Driver(SPINE, Y, 1)),
    _part("nod head", 40, Driver(NECK, X, 1)),
    _part("tilt head", 35, Driver(NECK, Z, 1)),
    _part("raise both arms forward", 80, Driver(R_SHOULDER, X, -1), Driver(L_SHOULDER, X, -1)),
    _part("swing arms alternately", 50, Driver(R_SHOULDER, X, -1), Driver(L_SHOULDER, X, -1, phase=0.5)),
    _part("raise both arms sideways", 80, Driver(R_SHOULDER, Z, -1), Driver(L_SHOULDER, Z, 1)),
    _part("flap arms alternately", 60, Driver(R_SHOULDER, Z, -1), Driver(L_SHOULDER, Z, 1, phase=0.5)),
    _part("bend both elbows", 90, Driver(R_ELBOW, X, -1), Driver(L_ELBOW, X, -1)),
    _part("squat", 45, Driver(R_HIP, X, -1), Driver(L_HIP, X, -1), Driver(R_KNEE, X, 1, 2.0),
          Driver(L_KNEE, X, 1, 2.0)),
    _part("march", 35, Driver(R_HIP, X, -1), Driver(L_HIP, X, -1, phase=0.5)),
    _part("reach with right arm", 70, Driver(R_SHOULDER, X, -1), Driver(R_ELBOW, X, -1, 0.7)),
    _part("reach with left arm", 70, Driver(L_SHOULDER, X, -1), Driver(L_ELBOW, X, -1, 0.7)),
    _part("wave right hand", 40, Driver(R_SHOULDER, Z, -1, 0.0, bias=120), Driver(R_ELBOW, Z, -1)),
    _part("wave left hand", 40, Driver(L_SHOULDER, Z, 1, 0.0, bias=120), Driver(L_ELBOW, Z, 1)),
)
#: Cycles of the motion over the action; 0.5 = move once and hold.
TEMPOS = (1.0, 2.0, 0.5, 3.0, 4.5)
MAX_CLASSES = len(PARTS) * len(TEMPOS)
#: A joint closer than this to a driver's axis hardly moves when the driver turns.
MIN_LEVER_M = 0.05


@dataclass(frozen=True)
class Program:
    """The motion of one class."""

    part: Part
    cycles: float

    @property
    def name(self) -> str:
        return f"{self.part.name}, {self.cycles:g} cycles"

    @property
    def moving_joints(self) -> tuple:
        """0-based joints the program moves: those below a driver with a non-zero weight that lie
        at least ``MIN_LEVER_M`` off the driver's rotation axis in the rest pose."""
        pose = rest_pose()
        moving = set()
        for d in self.part.drivers:
            if not d.weight:
                continue
            axis = np.asarray(d.axis)
            for j in descendants(d.joint):
                lever = pose[j] - pose[d.joint]
                if np.linalg.norm(lever - (lever @ axis) * axis) >= MIN_LEVER_M:
                    moving.add(j)
        return tuple(sorted(moving))

    def rotations(self, frames: int, rng: np.random.Generator, lag: float = 0.0) -> dict:
        """``{joint: (frames, 4)}`` quaternions of one performance.

        Per performance: amplitude x U(0.75, 1.25), tempo x U(0.85, 1.15), phase jitter, and an
        active window covering 70-100 % of the frames (rest pose held before and after).
        ``lag`` (cycles) delays the motion (the partner in two-person classes).
        """
        amplitude = self.part.amplitude * rng.uniform(0.75, 1.25)
        cycles = self.cycles * rng.uniform(0.85, 1.15)
        phase = rng.uniform(-0.05, 0.05) - lag
        begin = rng.uniform(0.0, 0.15) * frames
        end = frames - rng.uniform(0.0, 0.15) * frames
        tau = np.clip((np.arange(frames) - begin) / max(end - begin, 1.0), 0.0, 1.0)
        rotations: dict[int, np.ndarray] = {}
        for d in self.part.drivers:
            wave = (1 - np.cos(2 * np.pi * (cycles * tau + phase + d.phase))) / 2
            angle = np.radians(d.sign * (d.bias + d.weight * amplitude * wave))
            q = quat_axis_angle(d.axis, angle)
            rotations[d.joint] = quat_mul(rotations[d.joint], q) if d.joint in rotations else q
        return rotations


def program(label0: int) -> Program:
    """The motion program of class ``label0`` (0-based)."""
    if not 0 <= label0 < MAX_CLASSES:
        raise ValueError(f"synthetic classes go up to {MAX_CLASSES}, got label {label0}")
    return Program(PARTS[label0 % len(PARTS)], TEMPOS[label0 // len(PARTS)])


def nuisance_program(label0: int, strength: float, rng: np.random.Generator) -> Program:
    """A distractor for one sample of class ``label0``: a random body-part motion that moves none
    of the class's moving joints (nor its driven joints), a random tempo, amplitude x ``strength``.

    Untrained features respond to every moving joint, so a distractor makes the task depend on
    *which* joints move the class way rather than on motion being present at all.
    """
    if strength <= 0:
        raise ValueError(f"nuisance strength must be positive, got {strength}")
    own = program(label0)
    busy = set(own.moving_joints) | {d.joint for d in own.part.drivers}
    candidates = [part for part in PARTS
                  if busy.isdisjoint(set(Program(part, 1.0).moving_joints) | {d.joint for d in part.drivers})]
    part = candidates[int(rng.integers(len(candidates)))]
    return Program(replace(part, amplitude=part.amplitude * strength), float(rng.choice(TEMPOS)))
