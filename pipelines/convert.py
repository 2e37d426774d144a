"""Convert one chunk of raw files into final bytes (runs in workers): a chunk of ``.partial/``.

Per raw item (an NTU ``RawFile`` or a PKU-MMD ``VideoFiles``): parse it, cut PKU-MMD videos into
labelled clips, normalize every sample with the profile, and sort the outcome into

- samples (manifest row + raw-length bodies + ready tensor),
- ``bad``: malformed input, ``{"file", "line", "reason"}`` (the rest of the chunk still runs),
- ``skipped``: well-formed input with nothing to normalize (0 frames, no body, or the profile
  finds no usable frame), ``{"file", "reason"}``.

The samples' raw frames and ready tensors are then cut into the HDF5 chunks of their datasets and
compressed here (:mod:`actclr.store.chunks`): where chunk ``k``'s rows fall in a dataset depends
on the chunks before it, so the worker waits for chunk ``k - 1``'s tail file (written as soon as
that chunk is parsed, before it compresses anything), writes its own, then compresses.

The raw plain files named in ``task.unhashed`` (their digest is not remembered) are hashed here,
from the bytes parsed, for the dataset's ``source.digest``; the digests go into the chunk's books.

Everything here is a pure function of the task (and of the earlier chunks), so a chunk converted
twice is identical.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from actclr.constants import BACKGROUND
from actclr.profiles import Profile, get_profile
from actclr.registry import get_dataset
from actclr.skeleton import FRAME_SHAPE, RawSkeleton, ready_shape
from actclr.store.chunks import Piece
from actclr.store.hdf5 import VIDEO_LAYOUTS, skeleton_layouts
from actclr.store.partial import ChunkResult, load_tail, save_chunk, save_tail, tail_path

from .errors import ParseError
from .ntu import parse_ntu
from .pkummd import clip_rows, parse_pkummd_labels, parse_pkummd_skeleton, pkummd_clips
from .sources import RawFile, VideoFiles

#: Longest pause between two looks for the previous chunk's tail (seconds).
_MAX_POLL = 0.05


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs (picklable): convert ``items``, chunk ``index`` of ``out``.

    ``previous``: the configuration hash of chunk ``index - 1`` (whose tail this chunk continues);
    ``last``: the final chunk, which also closes every dataset's last partial HDF5 chunk;
    ``unhashed``: the locations of the plain raw files to hash (sha256 of the bytes read).
    """

    index: int
    dataset: str
    profile: str
    profile_params: dict
    items: tuple
    config: str
    out: str
    previous: str = ""
    last: bool = False
    pkummd_convention: str = "aimclr"
    max_file_bytes: int | None = None
    unhashed: frozenset = frozenset()


@dataclass
class _Collector:
    """Accumulates the samples, videos and reports of one chunk."""

    rows: list = field(default_factory=list)
    bodies: list = field(default_factory=list)
    ready: list = field(default_factory=list)
    bad: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    videos: list = field(default_factory=list)   # (name, frames (T, 2, 25, 3), labels (T,))
    digests: dict = field(default_factory=dict)  # {raw file location: sha256}

    def arrays(self, shape: tuple) -> dict:
        """The chunk's rows per compressed dataset (:func:`layouts`): raw ``frames`` ``(F, 2, 25, 3)``,
        ``ready`` ``(n, *shape)``, PKU-MMD ``video_frames`` and per-frame ``video_labels``."""
        def stack(arrays: list, row_shape: tuple, dtype) -> np.ndarray:
            return np.concatenate(arrays).astype(dtype) if arrays else np.zeros((0, *row_shape), dtype)

        return {"frames": stack(self.bodies, FRAME_SHAPE, np.float32),
                "ready": stack([r[None] for r in self.ready], shape, np.float32),
                "video_frames": stack([v[1] for v in self.videos], FRAME_SHAPE, np.float32),
                "video_labels": stack([v[2] for v in self.videos], (), np.int16)}


def layouts(shape: tuple, videos: bool) -> dict:
    """The compressed datasets a chunk adds to, by name: ``frames`` and ``ready`` of
    ``skeletons.h5`` (ready samples ``shape``), and for PKU-MMD ``video_frames`` and ``video_labels``
    of ``videos.h5``."""
    found = dict(skeleton_layouts(shape))
    if videos:
        found.update({f"video_{name}": layout for name, layout in VIDEO_LAYOUTS.items()})
    return found


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


def _read(raw: RawFile, task: ChunkTask, out: _Collector) -> bytes:
    """The bytes of ``raw``; their sha256 goes to ``out.digests`` if the task asks for it."""
    data = raw.read_bytes(task.max_file_bytes)
    if raw.location in task.unhashed:
        out.digests[raw.location] = hashlib.sha256(data).hexdigest()
    return data


def _ntu_samples(item, task: ChunkTask, out: _Collector) -> tuple:
    """``([sample], None)`` of an NTU ``RawFile``."""
    return [parse_ntu(_read(item, task, out), item.location)], None


def _pkummd_samples(item, task: ChunkTask, out: _Collector) -> tuple:
    """``(clips, (video name, frames (T, 2, 25, 3), per-frame labels (T,)))`` of a PKU-MMD video."""
    part = get_dataset(task.dataset).raw["part"]
    xyz = parse_pkummd_skeleton(_read(item.skeleton, task, out), item.skeleton.location)
    rows = parse_pkummd_labels(_read(item.labels, task, out), item.labels.location)
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


def convert_chunk(task: ChunkTask) -> tuple[_Collector, Profile]:
    """Parse and normalize ``task.items``; malformed items are recorded as bad, not raised."""
    spec = get_dataset(task.dataset)
    profile = get_profile(task.profile, **task.profile_params)
    samples_of = _ntu_samples if spec.format == "ntu" else _pkummd_samples
    out = _Collector()
    for item in task.items:
        where = _location(item)
        try:
            samples, video = samples_of(item, task, out)
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
    return out, profile


def previous_tail(task: ChunkTask, names: dict) -> dict:
    """Where each dataset stands before this chunk: ``{name: (rows, remainder rows)}``.

    Waits for chunk ``index - 1``'s tail file in a pool worker (the chunk may still be parsing);
    in the main process, where chunks run in order, a missing tail is an error.
    """
    if task.index == 0:
        return {name: (0, layout.empty()) for name, layout in names.items()}
    path = tail_path(task.out, task.index - 1, task.previous)
    parent, pause = multiprocessing.parent_process(), 0.001
    while (tail := load_tail(path)) is None:
        if parent is None:
            raise RuntimeError(f"{path}: missing; chunk {task.index - 1} was not converted before chunk {task.index}")
        if not parent.is_alive():        # the prepare process was killed: leave instead of waiting forever
            raise RuntimeError(f"chunk {task.index}: the prepare process (pid {parent.pid}) is gone")
        time.sleep(pause)
        pause = min(2 * pause, _MAX_POLL)
    return tail


def run_chunk(task: ChunkTask) -> int:
    """Worker entry point: convert the chunk, publish its tail, compress and save it in ``.partial/``."""
    collected, profile = convert_chunk(task)
    shape = ready_shape(profile.frames)
    names = layouts(shape, get_dataset(task.dataset).format == "pkummd")
    rows = collected.arrays(shape)
    before = previous_tail(task, names)
    blocks, tails, starts = {}, {}, {}
    for name, layout in names.items():
        end, carry = before[name]
        starts[name] = (end - len(carry)) // layout.rows
        blocks[name], remainder = layout.cut(carry, rows[name], task.last)
        tails[name] = (end + len(rows[name]), remainder)
    save_tail(tail_path(task.out, task.index, task.config), tails)
    pieces = {name: Piece(starts[name], layout.encode(blocks[name]), tails[name][0]) for name, layout in names.items()}
    save_chunk(task.out, task.index, ChunkResult(
        config=task.config, ready=rows["ready"], pieces=pieces, rows=collected.rows, bad=collected.bad,
        skipped=collected.skipped, digests=collected.digests,
        lengths=np.array([len(b) for b in collected.bodies], np.int64),
        video_lengths=np.array([len(v[1]) for v in collected.videos], np.int64),
        video_names=[v[0] for v in collected.videos]))
    return task.index
