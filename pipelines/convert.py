"""Convert one chunk of raw files into a :class:`~actclr.store.partial.ChunkResult` (runs in workers).

Per raw item (an NTU ``RawFile`` or a PKU-MMD ``VideoFiles``): parse it, cut PKU-MMD videos into
labelled clips, normalize every sample with the profile, and sort the outcome into

- samples (manifest row + raw-length bodies + ready tensor),
- ``bad``: malformed input, ``{"file", "line", "reason"}`` (the rest of the chunk still runs),
- ``skipped``: well-formed input with nothing to normalize (0 frames, no body, or the profile
  finds no usable frame), ``{"file", "reason"}``.

Everything here is a pure function of the task, so a chunk converted twice is identical.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actclr.profiles import Profile, get_profile
from actclr.registry import get_dataset
from actclr.skeleton import NUM_BODIES, NUM_COORDS, NUM_JOINTS
from actclr.store.partial import ChunkResult, save_chunk

from .errors import ParseError
from .ntu import parse_ntu
from .pkummd import clip_rows, parse_pkummd_labels, parse_pkummd_skeleton, pkummd_clips
from .sources import VideoFiles
from .types import RawSkeleton

FRAME_SHAPE = (NUM_BODIES, NUM_JOINTS, NUM_COORDS)
BACKGROUND = -1


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs (picklable): convert ``items`` and save the result at ``path``."""

    index: int
    dataset: str
    profile: str
    profile_params: dict
    items: tuple
    config: str
    path: str
    pkummd_convention: str = "aimclr"
    max_file_bytes: int | None = None


@dataclass
class _Collector:
    """Accumulates the samples, videos and reports of one chunk."""

    rows: list = field(default_factory=list)
    bodies: list = field(default_factory=list)
    ready: list = field(default_factory=list)
    bad: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    videos: list = field(default_factory=list)   # (name, frames (T, 2, 25, 3), labels (T,))

    def result(self, config: str, ready_shape: tuple) -> ChunkResult:
        def stack(arrays: list, shape: tuple, dtype) -> np.ndarray:
            return np.concatenate(arrays).astype(dtype) if arrays else np.zeros((0, *shape), dtype)

        return ChunkResult(
            config=config,
            ready=stack([r[None] for r in self.ready], ready_shape, np.float32),
            rows=self.rows,
            frames=stack(self.bodies, FRAME_SHAPE, np.float32),
            lengths=np.array([len(b) for b in self.bodies], dtype=np.int64),
            bad=self.bad,
            skipped=self.skipped,
            video_frames=stack([v[1] for v in self.videos], FRAME_SHAPE, np.float32),
            video_lengths=np.array([len(v[1]) for v in self.videos], dtype=np.int64),
            video_labels=stack([v[2] for v in self.videos], (), np.int16),
            video_names=[v[0] for v in self.videos],
        )


def manifest_row(raw: RawSkeleton) -> dict:
    """The manifest columns of a parsed sample (``None`` where the format has no such field)."""
    meta = raw.meta
    return {"key": raw.key, "label": int(meta["label"]),
            **{name: meta.get(name) for name in ("subject", "camera", "setup", "replication", "video",
                                                  "start", "end")},
            "frames": raw.num_frames, "bodies": raw.num_bodies}


def frame_labels(num_frames: int, rows: list, convention: str) -> np.ndarray:
    """Per-frame class ``(T,)`` int16 of a PKU-MMD video; -1 = background; a later row wins overlaps."""
    labels = np.full(num_frames, BACKGROUND, dtype=np.int16)
    for row in rows:
        start, end = clip_rows(row, convention)
        labels[max(start, 0):end] = row.label0
    return labels


def _ntu_samples(item, task: ChunkTask) -> tuple:
    """``([sample], None)`` of an NTU ``RawFile``."""
    return [parse_ntu(item.read_bytes(task.max_file_bytes), item.location)], None


def _pkummd_samples(item, task: ChunkTask) -> tuple:
    """``(clips, (video name, frames (T, 2, 25, 3), per-frame labels (T,)))`` of a PKU-MMD video."""
    part = get_dataset(task.dataset).raw["part"]
    xyz = parse_pkummd_skeleton(item.skeleton.read_bytes(task.max_file_bytes), item.skeleton.location)
    rows = parse_pkummd_labels(item.labels.read_bytes(task.max_file_bytes), item.labels.location)
    clips = pkummd_clips(xyz, rows, item.video, part, label_file=item.labels.location,
                         convention=task.pkummd_convention)
    return clips, (item.video, xyz, frame_labels(len(xyz), rows, task.pkummd_convention))


def _location(item) -> str:
    """Where an item is, for reports: the file, or a PKU-MMD video's skeleton file."""
    return item.skeleton.location if isinstance(item, VideoFiles) else item.location


def _add_sample(raw: RawSkeleton, where: str, profile: Profile, out: _Collector) -> None:
    """Normalize one parsed sample into ``out``, or record why it is skipped."""
    if raw.num_frames == 0 or raw.is_empty:
        reason = "0 frames" if raw.num_frames == 0 else f"no body in any of its {raw.num_frames} frames"
        out.skipped.append({"file": where, "reason": f"{raw.key}: no skeleton ({reason})"})
        return
    try:
        prepared = profile.apply(raw)
    except ValueError as error:      # the profile's documented "cannot normalize" signal
        out.skipped.append({"file": where, "reason": f"profile {profile.name}: {error}"})
        return
    out.rows.append(manifest_row(raw))
    out.bodies.append(prepared.bodies)
    out.ready.append(prepared.ready)


def convert_chunk(task: ChunkTask) -> ChunkResult:
    """Parse and normalize ``task.items``; malformed items are recorded as bad, not raised."""
    spec = get_dataset(task.dataset)
    profile = get_profile(task.profile, **task.profile_params)
    samples_of = _ntu_samples if spec.format == "ntu" else _pkummd_samples
    out = _Collector()
    for item in task.items:
        where = _location(item)
        try:
            samples, video = samples_of(item, task)
        except ParseError as error:
            out.bad.append({"file": error.file, "line": error.line, "reason": error.reason})
            continue
        except OSError as error:
            out.bad.append({"file": where, "line": None, "reason": f"cannot read ({error})"})
            continue
        if video is not None:
            out.videos.append(video)
        for raw in samples:
            _add_sample(raw, where, profile, out)
    return out.result(task.config, (3, profile.frames, NUM_JOINTS, NUM_BODIES))


def run_chunk(task: ChunkTask) -> int:
    """Worker entry point: convert the chunk and save it atomically at ``task.path``."""
    save_chunk(task.path, convert_chunk(task))
    return task.index
