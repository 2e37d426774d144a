"""``actclr-data prepare``: raw files -> a prepared dataset directory (``docs/data-format.md``).

1. Enumerate the raw inputs (``sources.find_sources``), sorted by key, and compare them with the
   registry's expected counts (one line of information: small trees are fine). Then lock
   ``<out>/.lock`` (one run per output directory) and stamp every raw file (``rawdigest``): the
   sha256 remembered from earlier runs is reused while a file's stamp is unchanged; the other
   files are hashed by the workers from the bytes they parse (before converting only when a
   finished dataset in ``<out>`` has to be compared with these raw files).
2. Convert chunks of files in a process pool (``convert.run_chunk``): parse, normalize, and
   compress the chunk's HDF5 chunks, the final bytes; each chunk is saved atomically in
   ``<out>/.partial/`` under the hash of its configuration (``actclr.store.partial``), so an
   interrupted run resumes by reusing the chunks whose hash matches (it covers the files' stamps).
3. The main process only keeps the books: it takes the chunks in key order, stores their
   compressed bytes as they are into ``skeletons.h5`` (and ``videos.h5`` for PKU-MMD), adds the
   manifest rows and the training samples to the average motions (one sample at a time, in key
   order, so the means do not depend on the chunking); one chunk is in memory at a time (plus a
   few dozen bytes of manifest per sample).
4. Write ``manifest.parquet`` and ``average_motion/*.npy``; the workers write the shards
   (``shardjob``: each split's shuffled order is known from the manifest and the seed, the
   tensors come from ``.partial/``), fingerprint the dataset and hash the HDF5 files meanwhile.
5. The dataset card ``README.md`` (``actclr.store.card``), checksums, then ``dataset.json`` LAST;
   finally ``.partial/`` is removed.

Nothing here imports torch. The output is the same whatever the number of workers.

Every file is written under a temporary name and renamed, so a directory without
``dataset.json`` is never mistaken for a complete dataset.

Bad input: a malformed file is recorded in ``bad`` (file, line, reason) and the rest is processed.
The dataset is still written completely; the caller (the CLI) exits non-zero unless the user
accepts the bad files with ``--skip-bad``.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

import actclr
from actclr.profiles import DEFAULT_PROFILE, get_profile
from actclr.registry import DatasetSpec, get_dataset
from actclr.skeleton import ready_shape
from actclr.store.atomic import write_bytes, write_json, write_npy
from actclr.store.average import MeanAccumulator
from actclr.store.card import CARD, dataset_card
from actclr.store.checksums import checksum_tree, sha256_file
from actclr.store.fingerprint import compute_fingerprint
from actclr.store.hdf5 import skeleton_writer, video_writer
from actclr.store.manifest import FORMAT_VERSION, SPLITS, ManifestBuilder, split_rows, write_manifest
from actclr.store.partial import PARTIAL_DIR, ChunkResult, chunk_config, load_chunk
from actclr.store.shards import JSON_FIELDS, shard_name, shard_sizes, shuffled_rows, write_index

from .convert import ChunkTask, run_chunk
from .describe import benchmark_rules, class_counts, missing_line, split_counts
from .lock import OutputLocked, output_lock
from .pkummd import CONVENTIONS
from .rawdigest import file_digests, load_memo, remember, remembered, save_memo
from .shardjob import ShardTask, run_shard
from .sources import MAX_FILE_MB, Inventory, RawFile, VideoFiles, find_sources, missing_report

#: Files per chunk: NTU files are small; a PKU-MMD video holds ~20 clips and thousands of frames.
CHUNK_SIZE = {"ntu": 32, "pkummd": 4}
OUTPUTS = ("dataset.json", "manifest.parquet", "skeletons.h5", "videos.h5", "shards", "average_motion", CARD)
#: Remembered content digests of the raw files (:mod:`.rawdigest`), kept between runs.
RAW_DIGESTS = ".raw-digests.json"


class PrepareError(Exception):
    """A problem the user must fix (bad arguments, an output directory that is not ours)."""


class PrepareInterrupted(RuntimeError):
    """Raised by the ``_stop_after_chunks`` test hook to simulate an interruption."""


class Reporter:
    """Receives messages and progress from :func:`prepare_dataset`; this base class ignores them."""

    def info(self, message: str) -> None:
        """Something worth telling the user."""

    def warn(self, message: str) -> None:
        """Something the user should look at (missing files, skipped samples)."""

    def progress(self, phase: str, done: int, total: int) -> None:
        """``done`` of ``total`` units of ``phase`` (``convert``: chunks, ``shards``: samples)."""


@dataclass(frozen=True)
class PrepareOptions:
    """The arguments of ``actclr-data prepare``."""

    dataset: str
    raw: tuple
    out: Path
    profile: str = DEFAULT_PROFILE
    profile_params: dict = field(default_factory=dict)
    workers: int = 1
    shard_seed: int = 0
    overwrite: bool = False
    pkummd_convention: str = "aimclr"
    chunk_size: int | None = None
    max_file_mb: int = MAX_FILE_MB


@dataclass
class PrepareResult:
    """``info`` is the written ``dataset.json``; ``reused``: the directory already held it."""

    out: Path
    info: dict
    reused: bool = False


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _raw_files(items: list) -> list:
    """The ``RawFile`` s of the items (a PKU-MMD video has two)."""
    return [f for item in items for f in ((item.skeleton, item.labels) if isinstance(item, VideoFiles) else (item,))]


def _plain_files(items: list) -> list:
    """The locations of the items' plain raw files (not zip members)."""
    return [f.location for f in _raw_files(items) if not f.in_zip]


def _zip_entries(items: list) -> dict:
    """``{archive: {member: [size, CRC-32]}}`` from the directories of the archives holding items."""
    archives = sorted({f.container for f in _raw_files(items) if f.in_zip})
    entries = {}
    for path in archives:
        with zipfile.ZipFile(path) as archive:
            entries[path] = {i.filename: [i.file_size, i.CRC] for i in archive.infolist()}
    return entries


def _signatures(items: list, plain: Callable[[RawFile], list], zips: dict) -> list:
    """Per item, the name and what identifies the content of its files: ``plain(file)`` for plain
    files, the size and CRC-32 from the archive's directory (``zips``) for zip members."""
    def sig(raw: RawFile) -> list:
        return [raw.name, *(zips[raw.container][raw.member] if raw.in_zip else plain(raw))]

    return [[item.video, sig(item.skeleton), sig(item.labels)] if isinstance(item, VideoFiles) else sig(item)
            for item in items]


def _source_signatures(items: list, stamps: dict, digests: dict, zips: dict) -> list:
    """What ``source.digest`` covers: per file its name, size and sha256 (plain files, ``digests``
    by location) or CRC-32 (zip members), so a file changed in place is noticed even when its
    size is kept."""
    return _signatures(items, lambda raw: [stamps[raw.location][0], digests[raw.location]], zips)


def _chunk_signatures(items: list, stamps: dict, zips: dict) -> list:
    """What a chunk's reuse is checked against before its files are read: per plain file its name
    and stamp (size, mtime, ctime, inode: :mod:`.rawdigest`), per zip member its size and CRC-32."""
    return _signatures(items, lambda raw: stamps[raw.location], zips)


def _input_digests(items: list, signatures: list) -> dict:
    """``{raw input name: sha256 over the signatures of its files}``, one per archive or folder."""
    groups: dict = {}
    for item, signature in zip(items, signatures):
        groups.setdefault(Path(_raw_files([item])[0].container).name, []).append(signature)
    return {name: _digest(group) for name, group in sorted(groups.items())}


def _settings(options: PrepareOptions, spec: DatasetSpec, profile) -> dict:
    """Everything besides the raw files that shapes a chunk's content."""
    settings = {"format_version": FORMAT_VERSION, "toolkit_version": actclr.__version__, "dataset": spec.name,
                "profile": {"name": profile.name, "params": profile.params}, "max_file_mb": options.max_file_mb}
    if spec.format == "pkummd":
        settings["pkummd_convention"] = options.pkummd_convention
    return settings


def _plan(options: PrepareOptions, spec: DatasetSpec, settings: dict, items: list, signatures: list,
          unhashed: set) -> list:
    """Cut the (key-sorted) items into chunk tasks, each with its configuration hash, which also
    covers every earlier chunk (where a chunk's rows fall in the HDF5 datasets depends on them);
    the workers hash the chunk's files in ``unhashed`` (locations)."""
    size = options.chunk_size or CHUNK_SIZE[spec.format]
    tasks, previous = [], ""
    starts = range(0, len(items), size)
    for index, lo in enumerate(starts):
        config = _digest({"settings": settings, "chunk_size": size, "items": signatures[lo:lo + size],
                          "previous": previous})
        tasks.append(ChunkTask(index=index, dataset=spec.name, profile=settings["profile"]["name"],
                               profile_params=dict(options.profile_params), items=tuple(items[lo:lo + size]),
                               config=config, out=str(options.out), previous=previous,
                               last=index == len(starts) - 1, pkummd_convention=options.pkummd_convention,
                               max_file_bytes=options.max_file_mb << 20,
                               unhashed=frozenset(set(_plain_files(items[lo:lo + size])) & unhashed)))
        previous = config
    return tasks


def _claim_output(out: Path, config: str | None, overwrite: bool) -> dict | None:
    """The existing ``dataset.json`` if ``out`` already holds this dataset; else make ``out`` ours.
    ``config`` may be ``None`` only when ``out`` holds no ``dataset.json``.

    Refuses (``PrepareError``) a directory holding another dataset or foreign files, unless
    ``overwrite``. A directory with ``.partial/`` is an interrupted run and is resumed.
    """
    info_path = out / "dataset.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("config") == config:
            shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)   # left if a run died after dataset.json
            return info
        if not overwrite:
            raise PrepareError(f"{out} already holds a prepared dataset ({info.get('name')}, profile "
                               f"{info.get('profile', {}).get('name')}) made with other settings or raw files; "
                               "use --overwrite to replace it")
        info_path.unlink()
    elif out.is_dir() and not (out / PARTIAL_DIR).is_dir() and not overwrite \
            and any(not p.name.startswith(".") for p in out.iterdir()):
        raise PrepareError(f"{out} is not empty and holds no prepared dataset; choose another --out or use --overwrite")
    (out / PARTIAL_DIR).mkdir(parents=True, exist_ok=True)
    return None


def _clear_outputs(out: Path) -> None:
    """Remove the outputs and temporary files of an earlier run (never ``.partial/`` chunks)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for tmp in out.glob(".*.tmp-*"):
        tmp.unlink()


def _pool_context():
    """Fresh worker processes that do not inherit the caller's threads (rich's refresh thread,
    BLAS pools): ``forkserver`` where available, with the worker code imported once in the
    server so that each worker starts instantly; ``spawn`` elsewhere (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([run_chunk.__module__, run_shard.__module__])
        return context
    return multiprocessing.get_context("spawn")


@contextmanager
def _workers(workers: int):
    """``imap(fn, tasks)`` (ordered results) and ``submit(fn, *args).get()``: a process pool for
    ``workers > 1``; else both run here, in order."""
    if workers <= 1:
        yield SimpleNamespace(imap=map, submit=lambda fn, *args: SimpleNamespace(get=lambda: fn(*args)))
        return
    with _pool_context().Pool(workers) as pool:
        yield SimpleNamespace(imap=lambda fn, tasks: pool.imap(fn, tasks, chunksize=1),
                              submit=lambda fn, *args: pool.apply_async(fn, args))


def _converted(tasks: list, pool, reporter: Reporter, stop_after: int | None) -> Iterator[ChunkResult]:
    """Every chunk's books in order; chunks not finished in ``.partial/`` are converted (in parallel)."""
    pending = [t for t in tasks if chunk_config(t.out, t.index) != t.config]
    if len(pending) < len(tasks):
        reporter.info(f"resuming: {len(tasks) - len(pending)} of {len(tasks)} chunks reused from {PARTIAL_DIR}/")
    todo = {t.index for t in pending}
    results = pool.imap(run_chunk, pending)
    computed = 0
    for task in tasks:
        if task.index in todo:
            next(results)
            computed += 1
            if stop_after is not None and computed >= stop_after:
                raise PrepareInterrupted(f"stopped after {computed} chunks (test hook)")
        chunk = load_chunk(task.out, task.index, task.config)
        if chunk is None:                # damaged since it was validated: convert it again here
            run_chunk(task)
            chunk = load_chunk(task.out, task.index, task.config)
            assert chunk is not None, f"{task.out}: chunk {task.index} unreadable right after it was written"
        yield chunk


def _check_order(keys: list, last: str, where: str) -> None:
    if any(a >= b for a, b in zip([last] + keys, keys)):
        raise RuntimeError(f"{where}: sample keys are not strictly increasing after {last!r}; "
                           "the raw files were not enumerated in key order")


@dataclass
class _Books:
    """What the main process keeps of the chunks: the manifest, average motions, reports, and
    where each sample's ready tensor is: ``data[c]`` is chunk ``c``'s ``.bin`` file, ``places[i]``
    ``(chunk, position)`` that of manifest row ``i`` (``(N, 2)`` int64); ``digests`` the sha256 of
    the raw files the workers hashed, by location."""

    table: pa.Table
    averages: dict
    bad: list
    skipped: list
    data: list
    places: np.ndarray
    digests: dict


def _write_arrays(out: Path, spec: DatasetSpec, profile: dict, shape: tuple, chunks: Iterable, total: int,
                  reporter: Reporter) -> _Books:
    """Store the chunks' compressed bytes in the HDF5 files and keep their books."""
    manifest = ManifestBuilder(spec, profile)
    sums = {b: MeanAccumulator(shape) for b in spec.benchmarks}
    bad: list = []
    skipped: list = []
    data: list[str] = []
    places: list[np.ndarray] = []
    digests: dict = {}
    last = ""
    reporter.progress("convert", 0, total)
    with ExitStack() as stack:
        writer = stack.enter_context(skeleton_writer(out / "skeletons.h5", spec.name, profile, shape))
        videos = stack.enter_context(video_writer(out / "videos.h5", spec.name)) if spec.format == "pkummd" else None
        for done, chunk in enumerate(chunks, 1):
            keys = [row["key"] for row in chunk.rows]
            _check_order(keys, last, f"{PARTIAL_DIR}/ chunk {done - 1}")
            last = keys[-1] if keys else last
            batch = manifest.add(chunk.rows)
            writer.append_encoded(chunk.lengths, [row["label"] for row in chunk.rows], keys, chunk.pieces["frames"],
                                  chunk.pieces["ready"])
            for b, acc in sums.items():
                acc.add(chunk.ready[batch.column(b).to_numpy(zero_copy_only=False) == "train"])
            if videos is not None:
                videos.append_encoded(chunk.video_lengths, chunk.video_names, chunk.pieces["video_frames"],
                                      chunk.pieces["video_labels"])
            places.append(np.stack([np.full(len(keys), len(data)), np.arange(len(keys))], axis=1))
            data.append(chunk.data)
            bad += chunk.bad
            skipped += chunk.skipped
            digests.update(chunk.digests)
            reporter.progress("convert", done, total)
        averages = {b: acc.mean() for b, acc in sums.items()}
        for b, mean in averages.items():
            writer.set_average(b, mean)
    where = np.concatenate(places).astype(np.int64) if places else np.zeros((0, 2), np.int64)
    return _Books(manifest.table(), averages, bad, skipped, data, where, digests)


def _shard_tasks(out: Path, books: _Books, benchmarks: list, seed: int, shape: tuple) -> Iterator[ShardTask]:
    """One task per shard of every benchmark split, members in the split's shuffled order."""
    for b in benchmarks:
        for split in SPLITS:
            order = shuffled_rows(split_rows(books.table, b, split), seed)
            lo = 0
            for i, size in enumerate(shard_sizes(len(order))):
                rows = order[lo:lo + size]
                fields = books.table.select(list(JSON_FIELDS)).take(rows).to_pylist()
                members = tuple((row, int(r), books.data[c], int(p))
                                for row, r, (c, p) in zip(fields, rows.tolist(), books.places[rows].tolist()))
                yield ShardTask(str(out / "shards" / b / shard_name(split, i)), members, shape)
                lo += size


def _write_shards(out: Path, books: _Books, benchmarks: list, seed: int, shape: tuple, pool,
                  reporter: Reporter) -> dict:
    """All benchmark splits as shuffled WebDataset shards, written by the workers, then their
    indexes; returns ``{shard path in the dataset: sha256}``."""
    total = sum(len(split_rows(books.table, b, s)) for b in benchmarks for s in SPLITS)
    digests, done = {}, 0
    reporter.progress("shards", 0, total)
    for path, count, digest in pool.imap(run_shard, _shard_tasks(out, books, benchmarks, seed, shape)):
        digests[Path(path).relative_to(out).as_posix()] = digest
        done += count
        reporter.progress("shards", done, total)
    for b in benchmarks:
        for split in SPLITS:
            write_index(out / "shards" / b, b, split, shard_sizes(len(split_rows(books.table, b, split))), seed)
    return digests


def _report_inventory(inventory: Inventory, missing: dict, reporter: Reporter) -> list:
    """Say how much of the full dataset the raw tree holds (once, as information) and warn about raw
    files that will not become samples; returns their ``skipped`` entries."""
    partial = missing_line(missing)
    if partial is not None:
        reporter.info(partial)
    if inventory.skipped:
        reporter.info(f"{len(inventory.skipped)} files on the official missing list skipped")
    others = inventory.unknown + inventory.unpaired + inventory.duplicates
    for entry in others:
        reporter.warn(f"ignored {entry['file']}: {entry['reason']}")
    return inventory.skipped + others


def _dataset_info(spec: DatasetSpec, profile: dict, table, options: PrepareOptions, config: str,
                  source: dict, skipped: list, bad: list, missing: dict) -> dict:
    """``dataset.json`` without ``files`` and ``fingerprint``."""
    return {
        "name": spec.name, "title": spec.title, "format_version": FORMAT_VERSION,
        "toolkit_version": actclr.__version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": profile, "num_samples": table.num_rows, "num_classes": spec.num_classes,
        "class_names": list(spec.class_names), "counts": split_counts(table, spec),
        "per_class": class_counts(table, spec), "benchmarks": benchmark_rules(spec),
        "skipped": skipped, "bad": bad, "missing": missing, "shard_seed": options.shard_seed,
        "config": config, "source": source,
    }


def prepare_dataset(options: PrepareOptions, reporter: Reporter | None = None, *,
                    _stop_after_chunks: int | None = None) -> PrepareResult:
    """Build (or resume, or find complete) the prepared dataset described by ``options``.

    Holds ``<out>/.lock`` while it works: a second concurrent run into the same ``out`` raises
    :class:`PrepareError` at once, naming the holder's pid.
    ``_stop_after_chunks`` (tests only) raises :class:`PrepareInterrupted` once that many chunks
    were converted in this call, leaving the directory as an interrupted run would.
    """
    reporter = reporter or Reporter()
    spec = get_dataset(options.dataset)
    if options.pkummd_convention not in CONVENTIONS:
        raise PrepareError(f"unknown PKU-MMD convention {options.pkummd_convention!r}; choose from {CONVENTIONS}")
    try:
        profile = get_profile(options.profile, **options.profile_params)
    except ValueError as error:
        raise PrepareError(str(error)) from None
    out = Path(options.out)
    try:
        inventory = find_sources(spec.name, list(options.raw))
    except FileNotFoundError as error:
        raise PrepareError(str(error)) from None
    if not inventory.files:
        unreadable = "".join(f"; {entry['file']}: {entry['reason']}" for entry in inventory.bad)
        raise PrepareError(f"no {spec.title} files found in {', '.join(map(str, options.raw))}{unreadable}")
    try:
        with output_lock(out):
            return _prepare_locked(options, spec, profile, inventory, reporter, _stop_after_chunks)
    except OutputLocked as error:
        raise PrepareError(str(error)) from None


def _configuration(options: PrepareOptions, spec: DatasetSpec, settings: dict, inventory: Inventory,
                   signatures: list) -> tuple[dict, str]:
    """``(dataset.json's source, its config)``: the raw inputs' digests, and the hash of the
    settings, the shard seed and the raw files' content that says whether a dataset is this one."""
    source = {"files": len(inventory.files), "digest": _digest(signatures),
              "inputs": _input_digests(inventory.files, signatures), "inventory": inventory.summary(),
              **({"pkummd_convention": options.pkummd_convention} if spec.format == "pkummd" else {})}
    return source, _digest({"settings": settings, "shard_seed": options.shard_seed, "source": source["digest"]})


def _all_digests(plain: list, known: dict, hashed: dict, memo: dict, stamps: dict) -> dict:
    """The sha256 of every plain raw file: ``known`` before converting, ``hashed`` by the workers,
    and, for a file no worker could read (over the size cap, unreadable), hashed here; the new
    ones are put into ``memo``."""
    fresh = {path: hashed[path] if path in hashed else sha256_file(path) for path in plain if path not in known}
    remember(memo, stamps, fresh)
    return {**known, **fresh}


def _prepare_locked(options: PrepareOptions, spec: DatasetSpec, profile, inventory: Inventory, reporter: Reporter,
                    stop_after: int | None) -> PrepareResult:
    """:func:`prepare_dataset` once the output directory's lock is held."""
    out = Path(options.out)
    profile_info = {"name": profile.name, "params": profile.params}
    missing = missing_report(spec.name, inventory.found)
    memo = load_memo(out / RAW_DIGESTS)
    plain = _plain_files(inventory.files)
    stamps, digests = remembered(plain, memo)
    if len(digests) < len(plain) and (out / "dataset.json").is_file():
        digests = file_digests(plain, memo)     # a dataset to compare with: its config needs them all now
    zips = _zip_entries(inventory.files)
    settings = _settings(options, spec, profile)
    config = None
    if len(digests) == len(plain):
        config = _configuration(options, spec, settings, inventory, _source_signatures(
            inventory.files, stamps, digests, zips))[1]

    existing = _claim_output(out, config, options.overwrite)
    if existing is not None:
        save_memo(out / RAW_DIGESTS, memo, plain)
        reporter.info(f"{out} already holds this dataset (same settings and raw files); nothing to do")
        return PrepareResult(out=out, info=existing, reused=True)
    skipped = _report_inventory(inventory, missing, reporter)

    tasks = _plan(options, spec, settings, inventory.files, _chunk_signatures(inventory.files, stamps, zips),
                  set(plain) - set(digests))
    reporter.info(f"{len(inventory.files)} raw items in {len(tasks)} chunks, {options.workers} worker(s)")
    _clear_outputs(out)
    shape = ready_shape(profile.frames)
    with _workers(options.workers) as pool:
        chunks = _converted(tasks, pool, reporter, stop_after)
        books = _write_arrays(out, spec, profile_info, shape, chunks, len(tasks), reporter)
        for entry in books.skipped:
            reporter.warn(f"skipped {entry['file']}: {entry['reason']}")
        for b, mean in books.averages.items():
            write_npy(out / "average_motion" / f"{b}.npy", mean)
        write_manifest(out / "manifest.parquet", books.table)
        source, config = _configuration(options, spec, settings, inventory, _source_signatures(
            inventory.files, stamps, _all_digests(plain, digests, books.digests, memo, stamps), zips))
        save_memo(out / RAW_DIGESTS, memo, plain)
        h5_files = [name for name in ("skeletons.h5", "videos.h5") if (out / name).is_file()]
        fingerprint = pool.submit(compute_fingerprint, out)
        h5_digests = {name: pool.submit(sha256_file, out / name) for name in h5_files}
        known = _write_shards(out, books, list(spec.benchmarks), options.shard_seed, shape, pool, reporter)
        reporter.progress("fingerprint", 0, 1)
        info = _dataset_info(spec, profile_info, books.table, options, config, source, skipped + books.skipped,
                             inventory.bad + books.bad, missing)
        info["fingerprint"] = fingerprint.get()
        known.update({name: digest.get() for name, digest in h5_digests.items()})
    reporter.progress("fingerprint", 1, 1)
    write_bytes(out / CARD, dataset_card(info).encode())
    reporter.progress("checksums", 0, 1)
    info["files"] = checksum_tree(out, known=known)
    reporter.progress("checksums", 1, 1)
    write_json(out / "dataset.json", info)
    shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
    return PrepareResult(out=out, info=info)
