"""Tests of the skeleton pictures (actclr.viz)."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from actclr.viz import draw_average_motion, draw_skeleton_strip
from actclr.viz.curves import draw_training_curves
from actclr.viz.sequences import as_sequence, pick_frames


def sample(frames: int = 50, seed: int = 0) -> np.ndarray:
    """A two-body raw sequence ``(T, 2, 25, 3)`` with a moving arm and an empty first frame."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=[0.2, 0.5, 0.1], size=(2, 25, 3))
    pose[1, :, 0] += 1.0
    seq = np.repeat(pose[None], frames, axis=0)
    seq[:, :, 10, 1] += np.sin(np.linspace(0, np.pi, frames))[:, None]
    seq[0] = 0
    return seq.astype(np.float32)


def read_png(path) -> np.ndarray:
    assert path.exists() and path.stat().st_size > 0
    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4) and min(image.shape[:2]) > 50
    return image


def test_strip_from_raw_and_ready_layouts(tmp_path):
    raw = sample()
    ready = raw.transpose(3, 0, 2, 1)  # (3, T, 25, 2)
    np.testing.assert_array_equal(as_sequence(ready), raw)
    a = read_png(draw_skeleton_strip(raw, tmp_path / "raw.png", num_frames=5))
    b = read_png(draw_skeleton_strip(ready, tmp_path / "ready.png", num_frames=5))
    np.testing.assert_array_equal(a, b)
    assert a.shape[1] > 2 * a.shape[0]  # a strip: wider than tall
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.png", "ready.png"]  # no temp files left


def test_empty_frames_are_skipped():
    seq = sample()
    assert 0 not in pick_frames(seq, 8)
    assert len(pick_frames(seq, 100)) == 49


def test_weights_change_the_picture_and_are_checked(tmp_path):
    raw = sample()
    plain = read_png(draw_skeleton_strip(raw, tmp_path / "plain.png", num_frames=4))
    weights = np.zeros((50, 25))
    weights[:, 8:12] = 1.0  # a right-arm actionlet
    lit = read_png(draw_skeleton_strip(raw, tmp_path / "lit.png", num_frames=4, weights=weights,
                                       title="actionlet"))
    assert lit.shape != plain.shape or not np.array_equal(lit, plain)
    per_body = np.stack([weights, weights[:, ::-1]], axis=-1)  # (T, 25, M)
    read_png(draw_skeleton_strip(raw, tmp_path / "per_body.png", weights=per_body))
    with pytest.raises(ValueError, match="weights"):
        draw_skeleton_strip(raw, tmp_path / "bad.png", weights=np.ones((13, 25)))
    assert not (tmp_path / "bad.png").exists()


def test_average_motion_picture(tmp_path):
    mean = sample(seed=3)[1:].mean(axis=0, keepdims=True).repeat(50, axis=0).transpose(3, 0, 2, 1)
    path = draw_average_motion(mean, tmp_path / "sub" / "avg.png", plane="zy")
    assert path == tmp_path / "sub" / "avg.png"
    read_png(path)


def test_existing_picture_is_replaced(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    read_png(draw_skeleton_strip(sample(), target))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 50, 20, 2)), "expected a sample"),
    (np.zeros((50, 2, 25, 3)), "empty"),
])
def test_bad_samples_raise(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        draw_skeleton_strip(bad, tmp_path / "bad.png")


def test_bad_plane_raises(tmp_path):
    with pytest.raises(ValueError, match="plane"):
        draw_skeleton_strip(sample(), tmp_path / "bad.png", plane="xx")


def test_training_curves_add_a_key_cosine_panel_only_when_logged(tmp_path):
    rows = [{"epoch": e, "loss": 2.0 - 0.1 * e, "phase": "warmup" if e < 3 else "main"} for e in range(1, 5)]
    plain = read_png(draw_training_curves({"run": rows}, tmp_path / "plain.png"))
    logged = [{**r, "key_cosine": 0.99 - 0.1 * r["epoch"]} for r in rows]
    wide = read_png(draw_training_curves({"run": logged}, tmp_path / "wide.png"))
    assert wide.shape[1] > plain.shape[1] * 1.3  # three panels instead of two
    with pytest.raises(ValueError, match="no epoch row with a loss"):
        draw_training_curves({"run": [{"epoch": 1}]}, tmp_path / "none.png")
