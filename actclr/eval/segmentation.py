"""Unsupervised action segmentation of PKU-MMD long videos (paper section 4.2.4, Table 6).

The paper gives no protocol beyond "linear evaluation on PKU-MMD with a frozen encoder"; this
module fixes one (documented in ``docs/evaluation.md``):

1. every video of ``videos.h5`` is cut into windows of ``window`` raw frames every ``stride``
   frames (a last window ends at the video's end, so every frame is covered; a video shorter
   than ``window`` is one window);
2. each window is normalised by the dataset's own profile (``dataset.json`` ``profile``, e.g.
   ``stgcn50``: centring, rotation, resizing to 50 frames), exactly like a prepared clip;
3. the frozen encoder (eval mode) gives one feature per window;
4. a linear classifier over ``C + 1`` classes (background = class ``C``) is trained on the
   windows of the training videos, a window's label being the frame label at its centre; the
   epoch is selected on windows of held-out training videos (by video, seeded);
5. each test frame gets the argmax of the summed softmax of all windows covering it;
6. ACC, MACC, FWIoU and mIoU over all test frames, background included as a class
   (:func:`actclr.eval.metrics.segmentation_metrics`).

Test frame labels are read once, after the classifier is trained and selected.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from actclr.constants import BACKGROUND
from actclr.eval.features import Progress, encode_batches
from actclr.eval.fit import predict
from actclr.eval.holdout import key_ranks
from actclr.eval.linear import train_probe
from actclr.eval.metrics import confusion_matrix, segmentation_metrics
from actclr.eval.recipes import LINEAR_RECIPE, SGDRecipe
from actclr.models.encoder import Encoder
from actclr.profiles import Profile, get_profile
from actclr.skeleton import RawSkeleton
from actclr.store.hdf5 import open_h5, read_strings


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Start frames of the windows of a video of ``length`` frames (see step 1)."""
    if length < 1 or window < 1 or stride < 1:
        raise ValueError(f"length, window and stride must be >= 1, got {length}, {window}, {stride}")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def window_extent(length: int, window: int) -> int:
    """Frames a window really spans in a video of ``length`` frames."""
    return min(window, length)


def centre_labels(frame_labels: np.ndarray, starts: np.ndarray, window: int, num_classes: int) -> np.ndarray:
    """``(n,)`` class of each window's centre frame; background (-1) becomes ``num_classes``."""
    span = window_extent(len(frame_labels), window)
    labels = np.asarray(frame_labels, dtype=np.int64)[starts + span // 2]
    return np.where(labels == BACKGROUND, num_classes, labels)


def frame_labels_with_background(frame_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-frame classes with background (-1) mapped to ``num_classes``."""
    labels = np.asarray(frame_labels, dtype=np.int64)
    return np.where(labels == BACKGROUND, num_classes, labels)


def vote_frames(window_scores: np.ndarray, starts: np.ndarray, window: int, length: int) -> np.ndarray:
    """``(length,)`` predicted class per frame: argmax of the summed softmax of the windows
    ``(n, K)`` that cover the frame."""
    span = window_extent(length, window)
    probs = torch.as_tensor(window_scores, dtype=torch.float64).softmax(dim=1).numpy()
    totals = np.zeros((length, probs.shape[1]))
    covered = np.zeros(length, dtype=bool)
    for start, p in zip(starts, probs):
        totals[start:start + span] += p
        covered[start:start + span] = True
    if not covered.all():
        raise ValueError(f"frames {np.flatnonzero(~covered)[:5].tolist()}... are covered by no window")
    return totals.argmax(axis=1)


def window_tensor(frames: np.ndarray, profile: Profile, name: str) -> np.ndarray:
    """``ready (3, T, 25, 2)`` of raw frames ``(W, 2, 25, 3)`` through ``profile``; an all-empty
    window (no body in any frame) is all zeros, like an absent body in a prepared sample."""
    present = np.any(frames != 0, axis=(2, 3))  # (W, 2)
    if not present.any():
        return np.zeros((3, profile.frames, frames.shape[2], frames.shape[1]), dtype=np.float32)
    ids = present * np.array([1, 2], dtype=np.uint64)
    return profile.apply(RawSkeleton(key=name, xyz=frames, body_ids=ids.astype(np.uint64))).ready


def dataset_profile(info: dict) -> Profile:
    """The profile a prepared dataset was made with (``dataset.json`` ``profile``)."""
    recorded = info.get("profile") or {}
    if "name" not in recorded:
        raise ValueError("dataset.json records no profile name; cannot normalise windows like the clips")
    return get_profile(recorded["name"], **dict(recorded.get("params") or {}))


@dataclass
class VideoWindows:
    """The windows of one video: ``starts (n,)`` and features ``(n, D)``."""

    name: str
    length: int
    starts: np.ndarray
    features: torch.Tensor


class VideoFile:
    """Read access to ``videos.h5``: names, frames and per-frame labels per video."""

    def __init__(self, path) -> None:
        self.path = str(path)
        with open_h5(self.path) as f:
            for name in ("frames", "offsets", "labels", "names"):
                if name not in f:
                    raise KeyError(f"{self.path}: no dataset {name!r}")
            self.names = read_strings(f["names"])
            self.offsets = f["offsets"][...].astype(np.int64)
        if len(self.offsets) != len(self.names) + 1:
            raise ValueError(f"{self.path}: {len(self.offsets)} offsets for {len(self.names)} videos")
        self.index = {name: i for i, name in enumerate(self.names)}

    def _slice(self, name: str) -> slice:
        if name not in self.index:
            raise KeyError(f"{self.path}: no video {name!r}")
        i = self.index[name]
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def frames(self, name: str) -> np.ndarray:
        """``(F, 2, 25, 3)`` float32 frames of a video."""
        with open_h5(self.path) as f:
            return f["frames"][self._slice(name)]

    def labels(self, name: str) -> np.ndarray:
        """``(F,)`` per-frame classes (-1 = background)."""
        with open_h5(self.path) as f:
            return f["labels"][self._slice(name)].astype(np.int64)


def iter_window_batches(frames: np.ndarray, starts: np.ndarray, window: int, profile: Profile, name: str,
                        batch_size: int) -> Iterator[torch.Tensor]:
    """Batches ``(b, 3, T, 25, 2)`` of the normalised windows of one video."""
    span = window_extent(len(frames), window)
    for lo in range(0, len(starts), batch_size):
        chunk = [window_tensor(frames[s:s + span], profile, f"{name}@{s}") for s in starts[lo:lo + batch_size]]
        yield torch.from_numpy(np.stack(chunk))


def video_splits(manifest, benchmark: str) -> dict:
    """``{video: "train" | "test"}`` from the clips of the manifest (a video's clips must agree)."""
    if benchmark not in manifest.column_names or "video" not in manifest.column_names:
        raise ValueError(f"the manifest needs 'video' and {benchmark!r} columns "
                         f"(has {', '.join(manifest.column_names)})")
    splits: dict = {}
    for video, split in zip(manifest.column("video").to_pylist(), manifest.column(benchmark).to_pylist()):
        if video is None or split is None:
            continue
        if splits.setdefault(video, split) != split:
            raise ValueError(f"video {video}: clips in both {splits[video]} and {split} of {benchmark}")
    return splits


def holdout_videos(videos: list, fraction: float, seed: int) -> set:
    """``round(fraction * n)`` training videos (at least 1 if ``fraction > 0``, never all), by key rank."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    count = min(max(int(round(fraction * len(videos))), 1) if fraction > 0 else 0, len(videos) - 1)
    ranks = key_ranks(videos, seed, "holdout-videos")
    return {videos[i] for i in np.argsort(ranks)[:max(count, 0)]}


@dataclass
class Segmented:
    """Results for ``metrics.json`` and the per-frame predictions of every test video."""

    results: dict
    predictions: dict  # {video: (F,) predicted class, background = num_classes}
    notes: list


def segmentation_evaluation(encoder: Encoder, dataset, benchmark: str, *, stream: str, device: torch.device,
                            window: int = 50, stride: int = 10, recipe: SGDRecipe = LINEAR_RECIPE,
                            val_fraction: float = 0.2, seed: int = 0, batch_size: int = 256,
                            on_epoch: Callable[[dict], None] | None = None,
                            progress: Progress | None = None) -> Segmented:
    """Segment the test videos of ``benchmark`` of a prepared PKU-MMD ``dataset`` (module docstring);
    ``progress`` sees the window features, video by video."""
    if dataset.videos_path is None:
        raise ValueError(f"{dataset.location}: no videos.h5 (segmentation needs a prepared PKU-MMD dataset)")
    videos_file = VideoFile(dataset.videos_path)
    splits = video_splits(dataset.manifest, benchmark)
    num_classes = int(dataset.info["num_classes"])
    profile = dataset_profile(dataset.info)
    videos = [v for v in videos_file.names if v in splits]
    train_videos = [v for v in videos if splits[v] == "train"]
    test_videos = [v for v in videos if splits[v] == "test"]
    if not train_videos or not test_videos:
        raise ValueError(f"{benchmark}: {len(train_videos)} training and {len(test_videos)} test videos; "
                         "both must be non-empty")

    def windows_of(video: str) -> VideoWindows:
        frames = videos_file.frames(video)
        starts = window_starts(len(frames), window, stride)
        feats = encode_batches(encoder, iter_window_batches(frames, starts, window, profile, video, batch_size),
                               stream, device)
        return VideoWindows(video, len(frames), starts, feats)

    encoded = {}
    for done, video in enumerate(videos, 1):
        encoded[video] = windows_of(video)
        if progress is not None:
            progress("window features (videos)", done, len(videos))
    val_videos = holdout_videos(train_videos, val_fraction, seed)

    def stack(names: list) -> tuple:
        if not names:
            return None, None
        x = torch.cat([encoded[v].features for v in names]).to(device)
        y = np.concatenate([centre_labels(videos_file.labels(v), encoded[v].starts, window, num_classes)
                            for v in names])
        return x, y

    train_x, train_y = stack([v for v in train_videos if v not in val_videos])
    val_x, val_y = stack(sorted(val_videos))
    head, fit = train_probe(train_x, torch.from_numpy(train_y).to(device), num_classes + 1, recipe, seed=seed,
                            val_x=val_x, val_y=val_y, on_epoch=on_epoch)
    predictions = {}
    for v in test_videos:
        scores = predict(head, [encoded[v].features.to(device)]).numpy()
        predictions[v] = vote_frames(scores, encoded[v].starts, window, encoded[v].length)
    cm = sum(confusion_matrix(frame_labels_with_background(videos_file.labels(v), num_classes), predictions[v],
                              num_classes + 1) for v in test_videos)  # test labels: read only now
    assert isinstance(cm, np.ndarray)  # test_videos is not empty (checked above)
    results = segmentation_metrics(cm)
    results.update(selected_epoch=fit.selected_epoch, selected_val_top1=fit.selected_val_top1, curve=fit.curve,
                   background_class=num_classes,
                   videos={"train": len(train_videos) - len(val_videos), "val": len(val_videos),
                           "test": len(test_videos)},
                   windows={"train": int(train_y.size), "val": 0 if val_y is None else int(val_y.size),
                            "test": int(sum(encoded[v].starts.size for v in test_videos))})
    notes = [f"windows of {window} raw frames every {stride}, normalised by profile {profile.name}",
             f"background is class {num_classes} and counts in every metric",
             f"epoch {fit.selected_epoch} selected on windows of {len(val_videos)} held-out training videos"
             if val_videos else "no validation videos: last epoch kept"]
    return Segmented(results, predictions, notes)
