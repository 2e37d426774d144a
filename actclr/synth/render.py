"""Render planned files: an NTU sample or a PKU-MMD video, as the bytes of the real formats."""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from actclr.pipelines.pkummd import file_interval

from .layout import NtuPlan, PkuVideoPlan
from .motions import nuisance_program, program
from .scene import Camera, furniture, observe, perform, subject_body
from .writers import TrackedBody, kinect_columns, ntu_text, pkummd_label_text, pkummd_skeleton_text

NTU_CAMERA_YAW = {1: 0.0, 2: 45.0, 3: -45.0}
#: NTU performers face the left camera in replication 1 and the right one in replication 2.
NTU_FACES_CAMERA = {1: 2, 2: 3}
PKUMMD_CAMERA_YAW = {1: -40.0, 2: 0.0, 3: 40.0}
FIRST_BODY_ID = 72057594037931101
NTU_FRAMES = (30, 150)
PARTNER = 1000            # partners get subject keys PARTNER + performer (never a real performer id)


def ntu_camera(seed: int, setup: int, camera: int) -> Camera:
    """Camera ``camera`` of ``setup``: the three cameras of a setup share distance and height."""
    rng = np.random.default_rng([seed, 2, setup])
    return Camera(NTU_CAMERA_YAW[camera], rng.uniform(2.6, 3.8), rng.uniform(0.7, 1.2))


def _side(facing: float) -> np.ndarray:
    """Unit vector to the left of a person facing yaw ``facing`` degrees (world x-z plane)."""
    phi = np.radians(facing)
    return np.array([np.cos(phi), 0.0, -np.sin(phi)])


def sample_rng(seed: int, stream: int, plan: NtuPlan) -> np.random.Generator:
    """Random stream ``stream`` of one NTU sample (independent of the other samples and streams)."""
    return np.random.default_rng([seed, stream, plan.setup, plan.camera, plan.subject, plan.replication,
                                  plan.label0])


def tilted(camera: Camera, plan: NtuPlan, seed: int, tilt: float) -> Camera:
    """``camera`` tilted for one sample: pitch and roll each uniform in ``[-tilt, tilt]`` degrees,
    from the sample's own random stream."""
    rng = sample_rng(seed, 11, plan)
    pitch, roll = rng.uniform(-tilt, tilt, 2)
    return replace(camera, pitch=float(pitch), roll=float(roll))


def render_ntu(plan: NtuPlan, seed: int, nuisance: float = 0.0, tilt: float = 0.0) -> tuple[bytes, int]:
    """``(file bytes, frames)`` of one NTU sample; CRLF or LF chosen per file. ``nuisance > 0``
    adds a distractor motion of that relative strength on joints the class does not move
    (:func:`nuisance_program`); ``tilt > 0`` tilts the camera per sample (:func:`tilted`). Both
    draw from their own random streams (at 0 the bytes are unchanged)."""
    rng = sample_rng(seed, 3, plan)
    crlf = bool(rng.integers(2))
    if plan.empty == "no frames":
        return ntu_text(0, [], crlf), 0
    frames = int(rng.integers(NTU_FRAMES[0], NTU_FRAMES[1] + 1))
    if plan.empty == "no bodies":
        return ntu_text(frames, [], crlf), frames
    camera = ntu_camera(seed, plan.setup, plan.camera)
    if tilt > 0:
        camera = tilted(camera, plan, seed, tilt)
    motion = program(plan.label0)
    facing = NTU_CAMERA_YAW[NTU_FACES_CAMERA[plan.replication]]
    centre = np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
    actors = [(subject_body(seed, plan.subject), facing, centre, 0.0)]
    if plan.two_person:
        half = rng.uniform(0.45, 0.65) * _side(facing)
        actors = [(actors[0][0], facing + 90.0, centre - half, 0.0),
                  (subject_body(seed, PARTNER + plan.subject), facing - 90.0, centre + half, rng.uniform(0.1, 0.3))]
    first_id = FIRST_BODY_ID + int(rng.integers(0, 20000))
    bodies = []
    distractor = None
    if nuisance > 0:
        nuisance_rng = sample_rng(seed, 7, plan)
        distractor = nuisance_program(plan.label0, nuisance, nuisance_rng)
    for i, (offsets, face, position, lag) in enumerate(actors):
        rotations = motion.rotations(frames, rng, lag)
        if distractor is not None:  # driven joints are disjoint by construction
            rotations.update(distractor.rotations(frames, nuisance_rng))
        positions, orientations = perform(rotations, offsets, frames, rng, face, position)
        columns = kinect_columns(*observe(camera, positions, orientations, rng))
        bodies.append(TrackedBody(first_id + 4 * i, 0, columns, rng.normal(0.0, 0.03, (frames, 2))))
    if plan.spurious:
        n = int(rng.integers(3, 9))
        xyz = furniture(camera, n, rng)
        columns = kinect_columns(xyz, np.zeros(xyz.shape[:-1] + (4,)), np.ones(xyz.shape[:-1]))
        bodies.append(TrackedBody(first_id + 9, int(rng.integers(0, frames - n + 1)), columns, np.zeros((n, 2))))
    return ntu_text(frames, bodies, crlf), frames


def pkummd_camera(seed: int, video: str, camera: int) -> Camera:
    rng = np.random.default_rng([seed, 5, zlib.crc32(video.encode())])
    return Camera(PKUMMD_CAMERA_YAW[camera], rng.uniform(2.4, 3.4), rng.uniform(0.7, 1.1))


def _timeline(labels: tuple, rng: np.random.Generator) -> tuple[list, int]:
    """``([(label0, start, end)], frames)``: instances of 40-150 frames separated by 15-60 idle
    frames, with idle lead-in and tail."""
    t = int(rng.integers(20, 61))
    windows = []
    for label0 in labels:
        n = int(rng.integers(40, 151))
        windows.append((label0, t, t + n))
        t += n + int(rng.integers(15, 61))
    return windows, t + int(rng.integers(5, 40))


def render_pkummd(plan: PkuVideoPlan, seed: int, two_person: set,
                  convention: str = "aimclr") -> tuple[bytes, bytes, int]:
    """``(skeleton bytes, label bytes, frames)`` of one PKU-MMD video.

    Body 1 performs the instances in order and stands idle between them; in two-person classes a
    partner (body 2) enters a few frames before the instance and leaves after it.
    """
    rng = np.random.default_rng([seed, 6, zlib.crc32(plan.name.encode())])
    windows, frames = _timeline(plan.labels, rng)
    # all views of a Part I video id share the performer; Part II names the subject
    performer = plan.subject if plan.subject is not None else zlib.crc32(plan.name[:4].encode()) % 66 + 1
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    rotations: dict[int, np.ndarray] = {}
    for label0, start, end in windows:
        for joint, q in program(label0).rotations(end - start, rng).items():
            rotations.setdefault(joint, np.tile(identity, (frames, 1)))[start:end] = q
    camera = pkummd_camera(seed, plan.name, plan.camera)
    centre = np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
    xyz = np.zeros((frames, 2, 25, 3))
    xyz[:, 0] = observe(camera, *perform(rotations, subject_body(seed, performer), frames, rng, 0.0, centre), rng)[0]
    bounds = [0] + [(e + s) // 2 for (_, _, e), (_, s, _) in zip(windows, windows[1:])] + [frames]
    for (label0, start, end), low, high in zip(windows, bounds, bounds[1:]):
        if label0 + 1 not in two_person:
            continue
        margin = int(rng.integers(5, 21))          # the partner never reaches into a neighbouring instance
        a, b = max(low, start - margin), min(high, end + margin)
        spot = centre + np.array([rng.uniform(0.8, 1.1), 0.0, rng.uniform(0.4, 0.8)])
        facing = np.degrees(np.arctan2(*(centre - spot)[[0, 2]]))
        motion = program(label0).rotations(b - a, rng, lag=rng.uniform(0.1, 0.3))
        positions, orientations = perform(motion, subject_body(seed, PARTNER + performer), b - a, rng, facing, spot)
        xyz[a:b, 1] = observe(camera, positions, orientations, rng)[0]
    rows = [(label0 + 1, *file_interval(start, end, convention), int(rng.integers(1, 3)))
            for label0, start, end in windows]
    return pkummd_skeleton_text(xyz), pkummd_label_text(rows), frames
