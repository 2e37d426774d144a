"""Write one WebDataset shard from the chunks in ``.partial/`` (runs in workers).

A split's shard members are known once every chunk is booked (the shuffled order depends only on
the manifest's rows and the seed): the main process hands each worker a shard's members, with
where their ``ready`` tensors sit in the chunks' ``.bin`` files, and nothing is read back from
``skeletons.h5``.
"""
from __future__ import annotations

from dataclasses import dataclass

from actclr.store.partial import read_ready
from actclr.store.shards import make_sample, write_shard


@dataclass(frozen=True)
class ShardTask:
    """The shard ``path`` and its members in order: ``(manifest row fields, row number, chunk
    .bin file, sample position in it)``; ready samples have shape ``shape`` ``(C, T, V, M)``."""

    path: str
    members: tuple
    shape: tuple


def run_shard(task: ShardTask) -> tuple[str, int, str]:
    """Worker entry point: write the shard; returns ``(path, samples, sha256)``."""
    samples = (make_sample(row, index, read_ready(data, position, task.shape))
               for row, index, data, position in task.members)
    return task.path, len(task.members), write_shard(task.path, samples)
