"""``ShardStream``: batches streamed from the WebDataset shards of a prepared dataset.

Shards are split over DDP ranks, then over DataLoader workers by global worker id
(``rank * num_workers + worker``); see :mod:`actclr.data.splitting` and ``docs/loading.md``.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info
from webdataset.shardlists import expand_urls

from actclr.data.batch import Batch, collate_samples
from actclr.data.splitting import (
    check_enough_shards,
    derive_seed,
    exact_batches_per_rank,
    num_streams,
    resampled_batches_per_rank,
    resampled_stream_quota,
    shard_order,
    stream_id,
    stream_shards,
)
from actclr.ranks import current_ranks
from actclr.skeleton import NUM_BODIES, NUM_COORDS, NUM_JOINTS
from actclr.store.errors import DatasetError
from actclr.store.members import LABEL, SKELETON, read_cls, read_npy
from actclr.store.shardfile import CorruptShardError, read_shard
from actclr.store.shards import read_shard_index
from actclr.store.streams import local_path

__all__ = ["CorruptShardError", "ShardStream", "decode_sample", "read_npy", "read_shards"]

Mode = Literal["exact", "resampled"]


# ---------------------------------------------------------------------------------------------
# Pipeline stages (run inside each DataLoader worker)


def read_shards(shards: Iterable[dict], checks: Mapping[str, tuple[int | None, str | None]] | None = None
                ) -> Iterator[dict]:
    """Stage: raw samples (dicts of bytes) of each ``{"url": ...}`` shard in turn.

    Each shard is read by :func:`actclr.store.shardfile.read_shard`: members outside the
    vocabulary are refused before they are read, and any failure raises
    :class:`CorruptShardError` naming the shard. ``checks`` maps a URL to its ``(sample count,
    sha256)`` from the index and ``dataset.json`` (either may be ``None``): a shard that ends
    early, or whose bytes differ from the digest, is reported once it has been read.
    """
    for shard in shards:
        url = shard["url"]
        size, digest = (checks or {}).get(url, (None, None))
        yield from read_shard(url, digest, size)


def decode_sample(sample: dict) -> tuple[torch.Tensor, int, str]:
    """Stage function: raw sample -> ``(x (3, T, 25, 2) float32 tensor, label, key)``.

    Raises :class:`CorruptShardError` naming the shard and the sample key when a member is
    missing or malformed.
    """
    url, key = sample.get("__url__"), sample.get("__key__")

    def bad(reason: str) -> CorruptShardError:
        return CorruptShardError(f"shard {url}: sample {key!r}: {reason}")

    missing = [member for member in (SKELETON, LABEL) if member not in sample]
    if missing:
        raise bad(f"missing member(s) {', '.join(missing)}")
    try:
        x = read_npy(sample[SKELETON])
    except Exception as exn:
        raise bad(f"skeleton.npy is not a valid .npy array ({exn})") from exn
    if x.dtype != np.float32 or x.ndim != 4 or (x.shape[0], *x.shape[2:]) != (NUM_COORDS, NUM_JOINTS, NUM_BODIES):
        expected = f"({NUM_COORDS}, T, {NUM_JOINTS}, {NUM_BODIES})"
        raise bad(f"skeleton.npy is {x.dtype} {x.shape}, expected float32 {expected}")
    try:
        label = read_cls(sample[LABEL])
    except ValueError as exn:
        raise bad(f"cls is {exn}") from exn
    assert key is not None  # the shard reader names every sample it reads from a tar
    return torch.from_numpy(x.copy()), label, key


# ---------------------------------------------------------------------------------------------
# The dataset


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Rank and world size: explicit arguments, else ``torch.distributed``, else ``RANK``/``WORLD_SIZE``."""
    if rank is None and world_size is None:
        rank, world_size = current_ranks()
    elif rank is None or world_size is None:
        raise ValueError("pass both rank and world_size, or neither")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    return rank, world_size


def _worker() -> tuple[int, int]:
    """``(worker id, num_workers)`` of the calling DataLoader worker; ``(0, 0)`` in the main process."""
    info = get_worker_info()
    return (0, 0) if info is None else (info.id, info.num_workers)


class ShardStream(IterableDataset):
    """Batches ``Batch(x (N, 3, 50, 25, 2) float32, y (N,) int64, keys)`` from WebDataset shards.

    Use it with ``make_loader(stream, device, num_workers=...)`` (a DataLoader with
    ``batch_size=None``: batching happens here, inside the workers).

    Modes:
      * ``'exact'``: each epoch permutes the shards with a seed from ``(seed, epoch)`` and gives
        global stream ``g = rank * num_workers + worker`` the shards ``order[g::streams]``, so every
        sample is read exactly once per epoch across all ranks x workers (``drop_last`` then drops
        at most ``batch_size - 1`` samples per stream, different ones every epoch). Needs at least
        ``world_size * num_workers`` shards (``ValueError`` otherwise). Per-rank batch counts can
        differ between ranks by the shard-size imbalance; DDP training must cap every rank to
        :meth:`batches_per_rank` (the guaranteed minimum over ranks), e.g. with ``itertools.islice``.
      * ``'resampled'``: each stream draws shards with replacement, deterministically from
        ``(seed, epoch, rank, worker)``, and every rank yields exactly ``samples_per_epoch //
        world_size`` samples (default ``samples_per_epoch``: the split size from ``shard_sizes``),
        so all ranks have the same number of batches.

    Epochs: :meth:`set_epoch` writes the epoch into shared memory that every worker reads when an
    iteration starts, so it works with persistent workers: call it before ``iter(loader)``. Shard
    order and the sample shuffle buffer (seed from ``(seed, epoch, stream)``) follow the epoch.

    ``urls`` are local paths, ``file://`` or fsspec URLs (no ``pipe:`` commands or unknown
    schemes), or one brace pattern string. ``shard_sizes`` (sample count per shard, from the
    index) enable :meth:`batches_per_rank` and truncation checks; ``sha256`` (one hex digest per
    shard) makes every shard hashed as it streams and compared at its end. Members outside the
    shard vocabulary are refused before they are read (:mod:`actclr.store.members`).
    """

    def __init__(
        self,
        urls: Sequence[str] | str,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        shuffle_buffer: int = 1000,
        drop_last: bool = True,
        mode: Mode = "exact",
        samples_per_epoch: int | None = None,
        shard_sizes: Sequence[int] | None = None,
        sha256: Sequence[str | None] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        self.urls = expand_urls(urls) if isinstance(urls, str) else list(urls)
        if not self.urls or not all(isinstance(url, str) for url in self.urls):
            raise ValueError(f"urls must be a non-empty list of shard URLs, got {urls!r}")
        if batch_size < 1 or shuffle_buffer < 1:
            raise ValueError(f"batch_size ({batch_size}) and shuffle_buffer ({shuffle_buffer}) must be >= 1")
        if mode not in ("exact", "resampled"):
            raise ValueError(f"mode must be 'exact' or 'resampled', got {mode!r}")
        for url in self.urls:
            local_path(url)  # ValueError for pipe: and any other scheme
        if shard_sizes is not None and len(shard_sizes) != len(self.urls):
            raise ValueError(f"{len(shard_sizes)} shard sizes for {len(self.urls)} shards")
        if sha256 is not None and len(sha256) != len(self.urls):
            raise ValueError(f"{len(sha256)} sha256 digests for {len(self.urls)} shards")
        self.sha256 = None if sha256 is None else list(sha256)
        self.shard_sizes = None if shard_sizes is None else [int(n) for n in shard_sizes]
        self.rank, self.world_size = _rank_world(rank, world_size)
        if mode == "resampled":
            if samples_per_epoch is None:
                if self.shard_sizes is None:
                    raise ValueError("mode='resampled' needs samples_per_epoch (or shard_sizes: the split size)")
                samples_per_epoch = sum(self.shard_sizes)
            if samples_per_epoch < self.world_size:
                raise ValueError(f"samples_per_epoch={samples_per_epoch} is less than world_size={self.world_size}")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.drop_last = drop_last
        self.mode = mode
        self.samples_per_epoch = samples_per_epoch
        self._epoch = multiprocessing.RawValue("q", epoch)

    @classmethod
    def from_dataset_dir(
        cls, dataset, benchmark: str, split: str, batch_size: int, *, verify: bool = True, **kw
    ) -> ShardStream:
        """Stream the split of ``dataset`` (a ``PreparedDataset`` or its location: directory,
        ``file://`` or fsspec URL) listed in ``shards/<benchmark>/<split>.json``.

        With ``verify`` (default) the index and every shard are checked against their sha256 in
        ``dataset.json`` (shards as they stream); ``verify=False`` skips the digests.
        """
        index = read_shard_index(dataset, benchmark, split, verify=verify)
        if not index.urls:
            raise DatasetError(f"{index.location}: the {benchmark}/{split} split has no shards (empty split)")
        if verify:
            unlisted = [f for f, digest in zip(index.files, index.sha256) if digest is None]
            if unlisted:
                raise DatasetError(f"{index.location}: {unlisted[0]} is not listed in dataset.json 'files', "
                                 "so it cannot be verified (verify=False to stream it anyway)")
        return cls(index.urls, batch_size, shard_sizes=index.sizes, sha256=index.sha256 if verify else None, **kw)

    # -- epochs and lengths -------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (shard order, shuffle seeds); visible to running persistent workers."""
        self._epoch.value = epoch

    def check_workers(self, num_workers: int) -> None:
        """Raise ``ValueError`` if exact mode cannot give every (rank, worker) stream a shard."""
        if self.mode == "exact":
            check_enough_shards(len(self.urls), self.world_size, num_workers)

    @property
    def samples_per_rank(self) -> int:
        """Resampled mode: samples each rank yields per epoch (before ``drop_last``)."""
        if self.mode != "resampled":
            raise ValueError("samples_per_rank is fixed only in mode='resampled'")
        assert self.samples_per_epoch is not None  # required in resampled mode (see __init__)
        return self.samples_per_epoch // self.world_size

    def max_workers(self) -> int | None:
        """Exact mode: the most DataLoader workers per rank that all get a shard (0: not even one
        stream per rank); ``None`` (no limit) in resampled mode."""
        return len(self.urls) // self.world_size if self.mode == "exact" else None

    def batches_per_rank(self, num_workers: int, batch_size: int | None = None) -> int:
        """Batches that *every* rank yields in every epoch with ``num_workers`` DataLoader workers
        (of ``batch_size`` samples, default the stream's).

        Resampled mode: the exact per-rank count. Exact mode: the minimum over ranks of the count
        guaranteed whatever the epoch's shard permutation (needs ``shard_sizes``); cap each rank's
        epoch to it so DDP ranks stay in step.
        """
        batch_size = batch_size or self.batch_size
        if self.mode == "resampled":
            return resampled_batches_per_rank(self.samples_per_rank, batch_size, self.drop_last)
        if self.shard_sizes is None:
            raise ValueError("batches_per_rank needs shard_sizes (use ShardStream.from_dataset_dir)")
        return min(exact_batches_per_rank(self.shard_sizes, self.world_size, num_workers, batch_size, self.drop_last))

    def largest_batch(self, num_workers: int) -> int:
        """The largest batch size that gives every rank at least one batch per epoch (0 if none)."""
        low, high = 0, self.batch_size  # batches_per_rank does not grow with the batch size
        while low < high:
            middle = (low + high + 1) // 2
            if self.batches_per_rank(num_workers, middle) >= 1:
                low = middle
            else:
                high = middle - 1
        return low

    # -- iteration --------------------------------------------------------------------------

    def _shard_source(self, epoch: int, stream: int, num_workers: int) -> IterableDataset:
        if self.mode == "resampled":
            return wds.ResampledShards(
                self.urls, seed=derive_seed(self.seed, epoch), worker_seed=lambda: stream, deterministic=True
            )
        self.check_workers(num_workers)
        order = shard_order(len(self.urls), self.seed, epoch, self.shuffle)
        mine = stream_shards(order, stream, num_streams(self.world_size, num_workers))
        return wds.SimpleShardList([self.urls[i] for i in mine])

    def __iter__(self) -> Iterator[Batch]:
        worker, num_workers = _worker()
        epoch = self.epoch
        stream = stream_id(self.rank, worker, num_workers)
        nothing: list[None] = [None] * len(self.urls)
        checks = dict(zip(self.urls, zip(self.shard_sizes or nothing, self.sha256 or nothing)))
        stages = [
            self._shard_source(epoch, stream, num_workers),
            lambda shards: read_shards(shards, checks),
            wds.map(decode_sample),
        ]
        if self.shuffle:
            seed = derive_seed(self.seed, epoch, stream)
            stages.append(wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, seed=seed))
        if self.mode == "resampled":
            quota = resampled_stream_quota(self.samples_per_rank, self.batch_size, num_workers, worker, self.drop_last)
            stages.append(wds.slice(quota))
        stages.append(wds.batched(self.batch_size, collation_fn=collate_samples, partial=not self.drop_last))
        return iter(wds.DataPipeline(*stages))

    def __repr__(self) -> str:
        return (
            f"ShardStream({len(self.urls)} shards, batch_size={self.batch_size}, mode={self.mode!r}, "
            f"rank={self.rank}/{self.world_size}, epoch={self.epoch})"
        )
