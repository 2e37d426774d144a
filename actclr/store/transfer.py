"""Copy a prepared dataset between any store and a local directory: :func:`pull` and :func:`publish`.

Both keep the dataset's rule that ``dataset.json`` marks a complete dataset, so it is written
last, and removed first when a transfer is going to change files next to it:

- :func:`pull` downloads the listed files (all, or one benchmark/split) in parallel, each under a
  temporary name, hashed as it arrives and renamed only when its sha256 matches the source's
  ``dataset.json``; files already present with the right sha256 are kept (an interrupted pull
  resumes), and ``dataset.json`` is written when every file is in place.
- :func:`publish` verifies the local dataset first, then uploads every file to an fsspec URL,
  ``dataset.json`` last.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from actclr.store.atomic import write_bytes
from actclr.store.card import CARD
from actclr.store.checksums import sha256_file
from actclr.store.errors import DatasetError
from actclr.store.manifest import SPLITS
from actclr.store.paths import check_name, local_file
from actclr.store.reader import DATASET_JSON, PreparedDataset, open_dataset
from actclr.store.shards import read_shard_index
from actclr.store.streams import fetch, filesystem, local_path
from actclr.store.verify import verify_dataset

#: Parallel transfers by default.
JOBS = 4

Callback = Callable[[int], None]


@dataclass(frozen=True)
class Transfer:
    """What a transfer did: files copied and kept (already right), bytes copied."""

    copied: list[str]
    kept: list[str]
    bytes: int


def select_files(ds: PreparedDataset, benchmark: str | None = None, split: str | None = None) -> list[str]:
    """The listed files of ``ds`` to pull: all of them, or for one benchmark and/or split its shard
    indexes (read and checked) and shards, with ``manifest.parquet``, the average motions and the
    dataset card (where listed)."""
    listed = ds.info.get("files", {})
    if benchmark is None and split is None:
        return sorted(listed)
    if benchmark is not None and benchmark not in ds.benchmarks:
        raise DatasetError(f"{ds.location}: no benchmark {benchmark!r}; the dataset has {', '.join(ds.benchmarks)}")
    if split is not None and split not in SPLITS:
        raise DatasetError(f"no split {split!r}; splits are {', '.join(SPLITS)}")
    chosen = {"manifest.parquet", CARD}
    for b in [benchmark] if benchmark is not None else ds.benchmarks:
        chosen.add(f"average_motion/{b}.npy")
        for s in [split] if split is not None else SPLITS:
            index = read_shard_index(ds, b, s)
            chosen.add(f"shards/{b}/{s}.json")
            chosen.update(index.files)
    unlisted = sorted(chosen - set(listed) - {CARD, *(f"average_motion/{b}.npy" for b in ds.benchmarks)})
    if unlisted:
        raise DatasetError(f"{ds.url_of(DATASET_JSON)}: {unlisted[0]} is not listed in 'files', "
                           "so it cannot be verified")
    return sorted(chosen & set(listed))


def _run(jobs: int, tasks: list[Callable[[], None]], on_file: Callable[[], None] | None) -> None:
    """Run ``tasks`` on a thread pool; on the first failure (or an interruption) cancel what has not
    started, let running ones finish (each publishes a complete file or nothing) and re-raise."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()
                    if on_file is not None:
                        on_file()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _remove_stale_temps(target: Path) -> None:
    """Temporary files of ``target`` left by an interrupted pull (hidden, never listed)."""
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        stale.unlink(missing_ok=True)


def pull(location: str, dest: str | os.PathLike, benchmark: str | None = None, split: str | None = None,
         jobs: int = JOBS, on_bytes: Callback | None = None, on_file: Callable[[], None] | None = None,
         plan: Callable[[int, int], None] | None = None) -> Transfer:
    """Mirror the dataset at ``location`` (any URL or directory) into the local directory ``dest``.

    ``plan(files, bytes)`` is called once the files to copy are known; ``on_bytes(n)`` as blocks
    arrive (from worker threads) and ``on_file()`` after each file. Raises ``DatasetError`` for a
    file whose sha256 differs from the source's ``dataset.json`` (it is not kept); ``dest`` then
    has no ``dataset.json`` and a rerun resumes.
    """
    ds = open_dataset(location)
    dest = Path(dest)
    if ds.is_local and ds.root is not None and ds.root.resolve() == dest.resolve():
        raise DatasetError(f"{dest}: pulling a dataset onto itself")
    files = select_files(ds, benchmark, split)
    where = f"{ds.url_of(DATASET_JSON)} files"
    targets = {name: local_file(dest, name, where) for name in files}
    todo = [name for name in files
            if not (targets[name].is_file() and sha256_file(targets[name]) == ds.sha256_of(name))]
    marker = dest / DATASET_JSON
    if todo or not marker.is_file() or marker.read_bytes() != ds.info_bytes:
        marker.unlink(missing_ok=True)       # from here on dest does not look complete
    sizes = {name: ds.file_size(name) for name in todo}
    if plan is not None:
        plan(len(todo), sum(sizes.values()))

    def copy(name: str) -> Callable[[], None]:
        def task() -> None:
            _remove_stale_temps(targets[name])
            fetch(ds.url_of(name), targets[name], ds.sha256_of(name), on_bytes)
        return task

    dest.mkdir(parents=True, exist_ok=True)
    _run(jobs, [copy(name) for name in todo], on_file)
    write_bytes(marker, ds.info_bytes)
    return Transfer(todo, [name for name in files if name not in todo], sum(sizes.values()))


def publish(source: str | os.PathLike, location: str, jobs: int = JOBS, on_bytes: Callback | None = None,
            on_file: Callable[[], None] | None = None, plan: Callable[[int, int], None] | None = None) -> Transfer:
    """Verify the local dataset ``source``, then upload it to ``location`` (any writable fsspec URL
    or a local directory): an existing ``dataset.json`` there is removed first, every file is
    uploaded, ``dataset.json`` last. Raises ``DatasetError`` (nothing uploaded) if verify finds a
    problem."""
    source = Path(source)
    problems = verify_dataset(source)
    if problems:
        raise DatasetError(f"{source}: not published, verify found {len(problems)} problem(s); the first: "
                           f"{problems[0]}")
    ds = open_dataset(source)
    names = sorted(ds.info["files"])
    target = local_path(location)
    fs, root = filesystem(target.resolve().as_uri() if target is not None else location)
    root = root.rstrip("/")
    marker = f"{root}/{DATASET_JSON}"
    if fs.exists(marker):
        fs.rm_file(marker)                   # the old version no longer looks complete
    sizes = {name: (source / name).stat().st_size for name in names}
    if plan is not None:
        plan(len(names), sum(sizes.values()))

    def upload(name: str) -> Callable[[], None]:
        def task() -> None:
            remote = f"{root}/{check_name(name, str(source))}"
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(local_file(source, name, str(source))), remote)
            if on_bytes is not None:
                on_bytes(sizes[name])
        return task

    _run(jobs, [upload(name) for name in names], on_file)
    fs.pipe_file(marker, ds.info_bytes)
    return Transfer(names, [], sum(sizes.values()))
