"""Shard assignment over DDP ranks x DataLoader workers (pure functions).

A *stream* is one (rank, worker) pair; its global id is ``rank * num_workers + worker`` and there
are ``world_size * num_workers`` of them (a DataLoader with ``num_workers=0`` is one stream per
rank). In ``exact`` mode every epoch permutes the shard list with a seed derived from
``(seed, epoch)`` (the same permutation on every rank and worker) and stream ``g`` reads shards
``order[g::streams]``, so every shard is read exactly once per epoch.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integer ``parts`` (order- and length-sensitive, platform-independent)."""
    words = [len(parts)] + [int(p) % 2**64 for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))


def num_streams(world_size: int, num_workers: int) -> int:
    """Streams feeding one epoch: ``world_size * max(num_workers, 1)``."""
    return world_size * max(num_workers, 1)


def stream_id(rank: int, worker: int, num_workers: int) -> int:
    """Global id of worker ``worker`` of rank ``rank``: ``rank * max(num_workers, 1) + worker``."""
    return rank * max(num_workers, 1) + worker


def shard_order(num_shards: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    """Shard indices in reading order for ``epoch``: a permutation derived from ``(seed, epoch)``, or identity."""
    if not shuffle:
        return list(range(num_shards))
    return np.random.default_rng(derive_seed(seed, epoch)).permutation(num_shards).tolist()


def stream_shards(order: Sequence[int], stream: int, streams: int) -> list[int]:
    """The shards of global stream ``stream`` out of ``streams``: ``order[stream::streams]``."""
    return list(order[stream::streams])


def check_enough_shards(num_shards: int, world_size: int, num_workers: int) -> None:
    """Raise ``ValueError`` unless every (rank, worker) stream gets at least one shard in exact mode.

    A stream without shards would end at once and leave its rank short of batches, which hangs
    DDP; failing early with the numbers is the only safe behaviour.
    """
    streams = num_streams(world_size, num_workers)
    if num_shards >= streams:
        return
    workers = max(num_workers, 1)
    fit = num_shards // world_size
    fewer = (
        f"num_workers <= {fit} (DataLoader workers per rank)"
        if fit >= 1
        else f"at most {num_shards} ranks"
    )
    raise ValueError(
        f"mode='exact' needs at least one shard per stream, but {num_shards} shards cannot feed "
        f"{world_size} rank(s) x {workers} worker(s) = {streams} streams. Use mode='resampled', "
        f"or {fewer}, or re-shard the split into at least {streams} shards."
    )


def exact_batches_per_rank(
    shard_sizes: Sequence[int], world_size: int, num_workers: int, batch_size: int, drop_last: bool
) -> list[int]:
    """Batches each rank is guaranteed to yield in every exact-mode epoch, whatever the shard permutation.

    Stream ``g`` always reads ``len(range(g, n, streams))`` shards; its samples are at least the
    sum of that many smallest shards, and each stream batches its own samples (``floor`` with
    ``drop_last``, else ``ceil``). Per-rank actual counts differ from these only through the
    shard-size imbalance (at most one sample per shard in the format).
    """
    n = len(shard_sizes)
    check_enough_shards(n, world_size, num_workers)
    streams = num_streams(world_size, num_workers)
    ordered = sorted(shard_sizes)
    per_rank = []
    for rank in range(world_size):
        total = 0
        for worker in range(max(num_workers, 1)):
            shards = len(range(stream_id(rank, worker, num_workers), n, streams))
            samples = int(sum(ordered[:shards]))
            total += samples // batch_size if drop_last else -(-samples // batch_size)
        per_rank.append(total)
    return per_rank


def resampled_stream_quota(
    samples_per_rank: int, batch_size: int, num_workers: int, worker: int, drop_last: bool
) -> int:
    """Samples that worker ``worker`` of a rank yields per epoch in resampled mode.

    The rank's full batches are dealt round-robin over its workers, so every worker yields whole
    batches; without ``drop_last`` the remainder (``samples_per_rank % batch_size``) goes to the
    next worker in turn. The rank total is ``samples_per_rank`` (``drop_last=False``) or
    ``samples_per_rank // batch_size * batch_size``.
    """
    workers = max(num_workers, 1)
    full, rest = divmod(samples_per_rank, batch_size)
    quota = (full // workers + (worker < full % workers)) * batch_size
    if rest and not drop_last and worker == full % workers:
        quota += rest
    return quota


def resampled_batches_per_rank(samples_per_rank: int, batch_size: int, drop_last: bool) -> int:
    """Batches every rank yields per resampled epoch (identical on all ranks)."""
    full, rest = divmod(samples_per_rank, batch_size)
    return full + int(bool(rest) and not drop_last)
