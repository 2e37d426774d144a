"""Segmentation windows and frame voting (pure parts)."""
from __future__ import annotations

import numpy as np
import pytest

from actclr.eval.segmentation import centre_labels, vote_frames, window_starts

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_windows_cover_the_video_end():
    np.testing.assert_array_equal(window_starts(100, 50, 10), [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(window_starts(105, 50, 20), [0, 20, 40, 55])
    np.testing.assert_array_equal(window_starts(30, 50, 10), [0])


def test_centre_labels_map_background_to_its_own_class():
    frames = np.array([-1] * 10 + [3] * 10 + [-1] * 5)
    starts = window_starts(len(frames), 10, 5)  # 0 5 10 15 ; centres 5 10 15 20
    np.testing.assert_array_equal(centre_labels(frames, starts, 10, num_classes=7), [7, 3, 3, 7])


def test_vote_sums_softmax_of_covering_windows():
    # two windows of 4 frames at 0 and 2 over 6 frames: frames 2-3 are covered by both
    scores = np.array([[5.0, 0.0], [0.0, 1.0]])
    pred = vote_frames(scores, np.array([0, 2]), 4, 6)
    np.testing.assert_array_equal(pred, [0, 0, 0, 0, 1, 1])  # confident window 0 wins the overlap
    with pytest.raises(ValueError, match="covered by no window"):
        vote_frames(scores, np.array([0, 1]), 2, 6)


@pytest.fixture(scope="module")
def pku_dataset(tmp_path_factory):
    """A tiny prepared synthetic PKU-MMD II (4 classes, a few videos) with ``videos.h5``."""
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset
    from actclr.synth import generate

    root = tmp_path_factory.mktemp("pku")
    generate(root / "raw", "pkummd2", classes=4, per_class=4, seed=0)
    return prepare_dataset(PrepareOptions("pkummd2", (root / "raw",), root / "prepared")).out


def test_segment_command(pku_dataset, tiny, tmp_path):
    import json

    import h5py
    from click.testing import CliRunner

    from actclr.cli.train import cli
    from actclr.store import open_dataset

    out = tmp_path / "seg"
    args = ["segment", "--data", str(pku_dataset), "--benchmark", "xview", "--checkpoint", "random",
            "--model-config", tiny, "--out", str(out), "--window", "40", "--stride", "20", "--epochs", "3",
            "--batch-size", "64", "--lr", "1.0", "--val-fraction", "0"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "classifier epochs: 3/3" in result.stderr  # progress on stderr
    videos = [line for line in result.stderr.splitlines() if line.startswith("window features (videos): ")]
    assert videos and videos[-1].split(": ")[1].split("/")[0] == videos[-1].split("/")[1]
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"ACC", "MACC", "FWIoU", "mIoU"} <= set(metrics["headline"])
    num_classes = open_dataset(pku_dataset).info["num_classes"]
    assert metrics["background_class"] == num_classes
    assert len(metrics["confusion_matrix"]) == num_classes + 1
    predictions = np.load(out / "predictions.npz")
    with h5py.File(open_dataset(pku_dataset).videos_path) as f:
        names = [n.decode() for n in f["names"][:]]
        lengths = dict(zip(names, np.diff(f["offsets"][:])))
    assert set(predictions.files) and all(predictions[v].shape == (lengths[v],) for v in predictions.files)
    assert metrics["num_frames"] == sum(lengths[v] for v in predictions.files)
    assert 0.0 <= metrics["acc"] <= 100.0 and metrics["videos"]["test"] == len(predictions.files)
