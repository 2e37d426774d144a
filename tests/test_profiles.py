"""Tests of the normalization profiles (actclr.profiles) on hand-checkable and real samples."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from actclr.profiles import DEFAULT_PROFILE, PROFILES, get_profile, list_profiles
from actclr.profiles.denoise import assign_actors, rank_bodies
from actclr.profiles.resample import linear_resize
from actclr.profiles.rotation import align_shoulders_y
from actclr.profiles.stgcn50 import center_crop
from actclr.profiles.tracks import group_by_id
from actclr.skeleton import CENTER, EDGES, LEFT_SHOULDER, RIGHT_SHOULDER, SPINE_MID, RawSkeleton

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
A058 = "S001C003P008R002A058"
ID_FIRST, ID_SECOND = 72057594037944738, 72057594037944734  # file order in A058


def make_raw(xyz: np.ndarray, ids: np.ndarray | None = None,
             key: str = "S001C001P001R001A001") -> RawSkeleton:
    """RawSkeleton from ``xyz (T, S, 25, 3)``; default ids: slot + 1 where the slot is non-zero."""
    xyz = np.asarray(xyz, dtype=np.float32)
    if ids is None:
        slots = np.arange(1, xyz.shape[1] + 1, dtype=np.uint64)
        ids = np.where(np.any(xyz != 0, axis=(2, 3)), slots, np.uint64(0)).astype(np.uint64)
    return RawSkeleton(key=key, xyz=xyz, body_ids=np.asarray(ids, dtype=np.uint64), meta={})


def yaw(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``(..., 3)`` points about the y axis by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return points @ rot.T


def body(frames: int, seed: int = 0, angles=None, offset=(0.0, 0.0, 3.0), flat: bool = False) -> np.ndarray:
    """A moving person ``(frames, 25, 3)``: random tall pose, shoulders 36 cm apart along +x, yawed
    per frame by ``angles`` and placed at ``offset``. ``flat`` makes a wide, low object instead."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=[0.15, 0.5, 0.1], size=(25, 3))
    if flat:
        pose = rng.normal(scale=[0.8, 0.05, 0.1], size=(25, 3))
    pose[LEFT_SHOULDER], pose[RIGHT_SHOULDER] = (-0.18, 0.5, 0.0), (0.18, 0.5, 0.0)
    wobble = rng.normal(scale=0.02, size=(frames, 25, 3)).cumsum(axis=0)
    wobble[:, [LEFT_SHOULDER, RIGHT_SHOULDER]] = wobble[:, [CENTER]]  # rigid shoulder line
    angles = np.zeros(frames) if angles is None else np.asarray(angles, dtype=float)
    seq = np.stack([yaw(pose + wobble[t], angles[t]) for t in range(frames)])
    return (seq + np.asarray(offset)).astype(np.float32)


def ntu_fixture(name: str):
    from actclr.pipelines.ntu import parse_ntu

    return parse_ntu((FIXTURES / "ntu" / f"{name}.skeleton").read_bytes(), f"{name}.skeleton")


def opencv_linear_reference(x: np.ndarray, length: int) -> np.ndarray:
    """Direct, per-output-row transcription of OpenCV's INTER_LINEAR formula."""
    src_len = x.shape[0]
    out = np.empty((length,) + x.shape[1:], dtype=np.float32)
    for d in range(length):
        fx = np.float32((d + 0.5) * (src_len / length) - 0.5)
        sx = int(np.floor(fx))
        frac = np.float32(fx - sx)
        if sx < 0:
            sx, frac = 0, np.float32(0)
        if sx >= src_len - 1:
            sx, frac = src_len - 1, np.float32(0)
        nxt = min(sx + 1, src_len - 1)
        out[d] = x[sx] * (np.float32(1) - frac) + x[nxt] * frac
    return out


# --- resize -------------------------------------------------------------------------------------

def test_resize_hand_values():
    ramp = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(linear_resize(ramp, 8), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_allclose(linear_resize(np.arange(6, dtype=np.float32), 3), [0.5, 2.5, 4.5])


@pytest.mark.parametrize("src_len", [1, 7, 37, 103, 300])
def test_resize_matches_opencv_formula(src_len):
    x = np.random.default_rng(src_len).normal(size=(src_len, 2, 25, 3)).astype(np.float32)
    x[:, 0, 0, 0] = np.arange(src_len)  # a ramp in one channel
    np.testing.assert_allclose(linear_resize(x, 50), opencv_linear_reference(x, 50), rtol=0, atol=1e-6)


def test_resize_identity_at_same_length():
    x = np.random.default_rng(1).normal(size=(50, 2, 25, 3)).astype(np.float32)
    np.testing.assert_array_equal(linear_resize(x, 50), x)


# --- rotation -----------------------------------------------------------------------------------

def test_rotation_puts_shoulders_on_plus_x_and_keeps_bones():
    angles = np.linspace(0.1, 2.6, 30)  # body 0: v_z < 0 in every frame; body 1: v_z > 0
    seq = np.stack([body(30, seed=0, angles=angles), body(30, seed=1, angles=-angles - 0.3)], axis=1)
    out = align_shoulders_y(seq)
    v = out[:, :, RIGHT_SHOULDER] - out[:, :, LEFT_SHOULDER]
    assert np.all(v[..., 0] > 0.3)
    # exactly aligned up to the official 1e-4 inside the arccos (at most ~1.3 degrees at 36 cm)
    before = (seq[:, :, RIGHT_SHOULDER] - seq[:, :, LEFT_SHOULDER]).astype(np.float64)
    norm = np.hypot(before[..., 0], before[..., 2])
    residual = np.arccos(before[..., 0] / norm) - np.arccos(before[..., 0] / (norm + 1e-4))
    np.testing.assert_allclose(np.abs(np.arctan2(v[..., 2], v[..., 0])), np.abs(residual), atol=1e-5)
    assert np.abs(residual).max() < np.radians(1.5)
    np.testing.assert_array_equal(out[..., 1], seq[..., 1])
    for c, p in EDGES:
        np.testing.assert_allclose(np.linalg.norm(out[:, :, c] - out[:, :, p], axis=-1),
                                   np.linalg.norm(seq[:, :, c] - seq[:, :, p], axis=-1), atol=1e-5)


def test_rotation_sign_is_per_sequence_like_the_official_code():
    # a frame whose v_z disagrees with the sequence's summed sign is rotated the wrong way
    angles = np.r_[np.full(9, 0.6), -0.6]
    out = align_shoulders_y(body(10, angles=angles)[:, None])[:, 0]
    v = out[:, RIGHT_SHOULDER] - out[:, LEFT_SHOULDER]
    assert np.all(np.abs(v[:9, 2]) < 0.01)
    np.testing.assert_allclose(np.arctan2(v[9, 2], v[9, 0]), 1.2, atol=0.02)  # twice its angle


def test_rotation_keeps_absent_body_zero():
    seq = np.stack([body(10, angles=np.full(10, 0.5)), np.zeros((10, 25, 3))], axis=1)
    out = align_shoulders_y(seq)
    assert not out[:, 1].any() and out[:, 0].any()


# --- stgcn50 ------------------------------------------------------------------------------------

def test_default_profile_and_recorded_params():
    assert DEFAULT_PROFILE == "stgcn50" and list_profiles()[0] == "stgcn50"
    assert set(list_profiles()) == set(PROFILES) == {"stgcn50", "sgn"}
    profile = get_profile("stgcn50")
    assert profile.params == {"frames": 50, "max_frames": 300, "center_joint": 21,
                              "rotation": "y_per_frame", "bodies": "file_order"}
    for name in list_profiles():
        recorded = json.loads(json.dumps(get_profile(name).params))
        assert get_profile(name, **recorded).params == recorded  # round trip


def test_get_profile_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("nope")
    with pytest.raises(ValueError, match="unknown parameter"):
        get_profile("stgcn50", frame=50)
    with pytest.raises(ValueError, match="fixed"):
        get_profile("stgcn50", center_joint=2)
    with pytest.raises(ValueError, match="rotation"):
        get_profile("stgcn50", rotation="x")
    with pytest.raises(ValueError, match="frames"):
        get_profile("sgn", frames=0)
    with pytest.raises(ValueError, match="max_frames"):
        get_profile("stgcn50", max_frames=True)
    with pytest.raises(ValueError, match="duplicate_single_actor"):
        get_profile("sgn", duplicate_single_actor="yes")
    assert get_profile("stgcn50", frames=64).apply(make_raw(body(40)[:, None])).ready.shape == (3, 64, 25, 2)


@pytest.mark.parametrize("rotation", ["none", "y_per_frame"])
def test_stgcn50_centres_on_joint_21(rotation):
    xyz = np.stack([body(80, seed=1), body(80, seed=2, offset=(1, 0, 3))], axis=1)
    ready = get_profile("stgcn50", rotation=rotation).apply(make_raw(xyz)).ready
    assert ready.shape == (3, 50, 25, 2) and ready.dtype == np.float32
    assert not ready[:, :, CENTER].any()  # exactly zero
    assert np.abs(ready).max() > 0.1


def test_stgcn50_without_rotation_is_centre_then_resize():
    xyz = np.stack([body(73, seed=3), body(73, seed=4)], axis=1)
    ready = get_profile("stgcn50", rotation="none").apply(make_raw(xyz)).ready
    expected = linear_resize(xyz - xyz[:, :, CENTER:CENTER + 1], 50).transpose(3, 0, 2, 1)
    np.testing.assert_allclose(ready, expected, atol=1e-6)


def test_stgcn50_rotation_aligns_every_frame():
    xyz = body(90, angles=np.linspace(0.2, 1.4, 90))[:, None]
    ready = get_profile("stgcn50").apply(make_raw(xyz)).ready
    v = ready[:, :, RIGHT_SHOULDER, 0] - ready[:, :, LEFT_SHOULDER, 0]  # (3, 50)
    assert np.all(v[0] > 0.3) and np.all(np.abs(v[2]) < 0.01) and np.all(v[1] == 0)


def test_stgcn50_keeps_first_two_bodies_in_file_order():
    a, b, c = body(60, seed=1), body(60, seed=2, offset=(1, 0, 3)), body(60, seed=3, offset=(-1, 0, 3))
    xyz = np.stack([a, b, c], axis=1)
    xyz[30:, [0, 1]] = xyz[30:, [1, 0]]  # the file order flips half-way: no tracking follows it
    prepared = get_profile("stgcn50").apply(make_raw(xyz))
    np.testing.assert_array_equal(prepared.bodies, xyz[:, :2])
    ready = get_profile("stgcn50", frames=60, rotation="none").apply(make_raw(xyz)).ready
    np.testing.assert_allclose(ready[:, 40, 1, 0], b[40, 1] - b[40, CENTER], atol=1e-6)


def test_stgcn50_keeps_zero_frames_in_place_and_uses_first_length_frames():
    xyz = body(60)[:, None].copy()
    xyz[20:30] = 0  # 0-body frames in the middle: length = 50, the first 50 frames are used
    raw = make_raw(xyz)
    assert not raw.body_ids[20:30].any()
    prepared = get_profile("stgcn50", rotation="none").apply(raw)
    assert prepared.bodies.shape == (60, 2, 25, 3) and not prepared.bodies[20:30].any()
    ready = prepared.ready  # 50 -> 50 is the identity
    assert not ready[:, 20:30].any()
    np.testing.assert_allclose(ready[:, 49, :, 0], (xyz[49, 0] - xyz[49, 0, CENTER]).T, atol=1e-6)


def test_stgcn50_single_body_has_zero_second_body():
    prepared = get_profile("stgcn50").apply(make_raw(body(45)[:, None]))
    assert prepared.bodies.shape == (45, 2, 25, 3) and not prepared.bodies[:, 1].any()
    assert not prepared.ready[..., 1].any() and prepared.ready[..., 0].any()


def test_stgcn50_centre_crops_long_sequences():
    xyz = body(400, seed=5)[:, None]
    assert center_crop(np.arange(400), 300)[0] == 50 and center_crop(np.arange(7), 300).size == 7
    long = get_profile("stgcn50").apply(make_raw(xyz))
    assert long.bodies.shape[0] == 400  # bodies stay at raw length
    cropped = get_profile("stgcn50").apply(make_raw(xyz[50:350]))
    np.testing.assert_array_equal(long.ready, cropped.ready)


@pytest.mark.parametrize("name", ["stgcn50", "sgn"])
@pytest.mark.parametrize("slots", [0, 2])  # a file listing 0 bodies in every frame has S == 0
def test_no_valid_frame_raises_with_key(name, slots):
    with pytest.raises(ValueError, match="S009C001P001R001A009"):
        get_profile(name).apply(make_raw(np.zeros((20, slots, 25, 3)), key="S009C001P001R001A009"))


def test_stgcn50_needs_body0_joint1():
    xyz = np.zeros((20, 2, 25, 3), np.float32)
    xyz[:, 1] = body(20)  # only slot 1 is filled
    with pytest.raises(ValueError, match="S002C001P001R001A001.*joint 1"):
        get_profile("stgcn50").apply(make_raw(xyz, key="S002C001P001R001A001"))


def test_bad_shape_raises_with_key():
    with pytest.raises(ValueError, match="S003C001P001R001A001.*shape"):
        get_profile("sgn").apply(make_raw(np.zeros((5, 1, 20, 3)), key="S003C001P001R001A001"))


# --- sgn ----------------------------------------------------------------------------------------

def test_sgn_orders_a058_by_motion_and_stgcn50_keeps_file_order():
    raw = ntu_fixture(A058)
    assert list(raw.body_ids[0]) == [ID_FIRST, ID_SECOND]
    sgn = get_profile("sgn").apply(raw)
    stgcn = get_profile("stgcn50").apply(raw)
    np.testing.assert_array_equal(sgn.bodies[:, 0], raw.xyz[:, 1])  # ...944734 (motion 0.237029)
    np.testing.assert_array_equal(sgn.bodies[:, 1], raw.xyz[:, 0])  # ...944738 (motion 0.198066)
    np.testing.assert_array_equal(stgcn.bodies, raw.xyz[:, :2])
    # origin = ...944734's frame-0 joint 2 (no resize at 70 frames)
    ready = get_profile("sgn", frames=70).apply(raw).ready
    np.testing.assert_array_equal(ready[:, 0, SPINE_MID, 0], 0)
    np.testing.assert_allclose(ready[:, 5, :, 1], (raw.xyz[5, 0] - raw.xyz[0, 1, SPINE_MID]).T, atol=1e-6)


def test_sgn_motion_ranking_on_a058_matches_reference_values():
    raw = ntu_fixture(A058)
    tracks, frames = group_by_id(raw.xyz, raw.body_ids)
    assert frames == 70 and [t.body_id for t in tracks] == [ID_FIRST, ID_SECOND]
    ranked = rank_bodies(tracks, A058)
    assert [t.body_id for t in ranked] == [ID_SECOND, ID_FIRST]


def test_sgn_single_actor_second_body_zero_or_duplicated():
    raw = make_raw(body(40)[:, None])
    plain = get_profile("sgn").apply(raw)
    assert not plain.ready[..., 1].any() and plain.ready[..., 0].any()
    dup = get_profile("sgn", duplicate_single_actor=True).apply(raw)
    np.testing.assert_array_equal(dup.ready[..., 1], dup.ready[..., 0])
    assert not dup.bodies[:, 1].any()  # the stored bodies are not duplicated


def test_sgn_drops_empty_frames_and_translates_to_first_joint2():
    xyz = body(40)[:, None].copy()
    xyz[:5] = 0
    xyz[20:25] = 0
    prepared = get_profile("sgn", frames=30).apply(make_raw(xyz))
    kept = np.r_[5:20, 25:40]
    np.testing.assert_array_equal(prepared.bodies[:, 0], xyz[kept, 0])
    expected = (xyz[kept, 0] - xyz[5, 0, SPINE_MID]).transpose(2, 0, 1)
    np.testing.assert_allclose(prepared.ready[..., 0], expected, atol=1e-6)


def test_sgn_denoising_drops_short_and_flat_bodies():
    person = body(40, seed=1)
    short = body(40, seed=2, offset=(1, 0, 3))
    table = body(40, seed=3, offset=(-1, -0.5, 3), flat=True)
    xyz = np.stack([table, person, short], axis=1)
    ids = np.tile(np.array([7, 8, 9], dtype=np.uint64), (40, 1))
    xyz[11:, 2], ids[11:, 2] = 0, 0  # seen in 11 frames: noise by length
    prepared = get_profile("sgn").apply(make_raw(xyz, ids))
    np.testing.assert_array_equal(prepared.bodies[:, 0], person)
    assert not prepared.bodies[:, 1].any()


def test_sgn_actor_assignment_rule():
    # A (strongest) on frames 0-19; B on 19-39 touches A's end only -> joins actor 1 and
    # overwrites frame 19; C on 5-30 overlaps -> actor 2; D on 10-25 overlaps both -> discarded.
    t = np.arange(40)
    spans = {1: (0, 19), 2: (19, 39), 3: (5, 30), 4: (10, 25)}
    xyz = np.zeros((40, 4, 25, 3), np.float32)
    ids = np.zeros((40, 4), np.uint64)
    for slot, (body_id, (lo, hi)) in enumerate(spans.items()):
        on = (t >= lo) & (t <= hi)
        xyz[on, slot] = body(40, seed=body_id, offset=(body_id, 0, 3))[on] * (1 + (body_id == 1))
        ids[on, slot] = body_id
    tracks, frames = group_by_id(xyz, ids)
    ranked = sorted(tracks, key=lambda tr: tr.body_id)  # motion order A, B, C, D by construction
    assert [tr.body_id for tr in rank_bodies(tracks, "x")][0] == 1
    actors = assign_actors(ranked, frames)
    np.testing.assert_array_equal(actors[:19, 0], xyz[:19, 0])
    np.testing.assert_array_equal(actors[19:, 0], xyz[19:, 1])
    np.testing.assert_array_equal(actors[5:31, 1], xyz[5:31, 2])
    assert not actors[:5, 1].any() and not actors[31:, 1].any()


def test_sgn_packed_intervals_follow_sgn():
    xyz = np.zeros((40, 2, 25, 3), np.float32)
    ids = np.zeros((40, 2), np.uint64)
    xyz[:, 0], ids[:, 0] = body(40, seed=1), 5
    gone = (np.arange(40) < 10) | (np.arange(40) >= 20)  # ID 6 vanishes for 10 frames
    xyz[gone, 1], ids[gone, 1] = body(40, seed=2)[gone], 6
    packed = get_profile("sgn").apply(make_raw(xyz, ids)).bodies
    true = get_profile("sgn", packed_intervals=False).apply(make_raw(xyz, ids)).bodies
    second = 1 if np.array_equal(true[:, 0], xyz[:, 0]) else 0
    np.testing.assert_array_equal(true[:, second], xyz[:, 1])
    np.testing.assert_array_equal(packed[:30, second], xyz[gone, 1])  # packed from frame 0
    assert not packed[30:, second].any()


def test_both_profiles_handle_pkummd_columns():
    xyz = np.stack([body(120, seed=1), body(120, seed=2, offset=(1, 0, 3))], axis=1)
    xyz[:40, 1] = 0  # the second person enters at frame 40
    raw = make_raw(xyz)  # ids 1/2 by column, 0 where a column is empty
    for name in list_profiles():
        prepared = get_profile(name).apply(raw)
        assert prepared.ready.shape == (3, 50, 25, 2) and np.isfinite(prepared.ready).all()
        assert prepared.ready[..., 0].any() and prepared.ready[..., 1].any()
