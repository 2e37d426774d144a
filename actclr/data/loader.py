"""DataLoader construction for actclr datasets, epoch seeding and device transfer."""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from actclr.data.batch import Batch, collate_samples
from actclr.data.splitting import derive_seed


def _as_is(batch: Batch) -> Batch:
    """Collation for datasets that yield whole batches (``ShardStream``)."""
    return batch


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed ``random`` and numpy from torch's worker seed.

    The DataLoader sets a worker's torch seed to ``base_seed + worker_id`` with ``base_seed``
    drawn from the loader's generator, which :meth:`EpochLoader.set_epoch` reseeds from
    ``(seed, epoch)``; so worker seeds depend on (seed, epoch, worker), never on the worker id alone
    (persistent workers keep the seeds of the epoch they started in; actclr's datasets draw no
    random numbers in the workers, ``ShardStream`` derives its own from ``(seed, epoch)``).
    """
    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)


class EpochLoader(DataLoader):
    """A ``DataLoader`` whose randomness is a function of ``(seed, epoch)``.

    :meth:`set_epoch` reseeds the sampling generator (shuffle order, worker base seed) from
    ``(seed, epoch)`` and forwards the epoch to the dataset and the sampler when they have
    ``set_epoch`` (``ShardStream``, ``DistributedSampler``). Call it before ``iter(loader)``;
    resuming at epoch ``e`` then reproduces epoch ``e`` exactly. The loader starts at the
    dataset's ``epoch`` attribute when it has one, else at 0.
    """

    def __init__(self, dataset: Dataset, *, seed: int, **kw: Any) -> None:
        super().__init__(dataset, generator=torch.Generator(), **kw)
        self.seed = seed
        self.epoch = getattr(self.dataset, "epoch", 0)
        self.generator.manual_seed(derive_seed(seed, self.epoch))

    def set_epoch(self, epoch: int) -> None:
        """Select ``epoch`` for the next ``iter(loader)`` (loader generator, dataset, sampler)."""
        self.epoch = epoch
        self.generator.manual_seed(derive_seed(self.seed, epoch))
        for part in (self.dataset, self.sampler):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)


def make_loader(
    dataset: Dataset,
    device: torch.device | str,
    *,
    batch_size: int | None = None,
    num_workers: int = 0,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
    persistent_workers: bool | None = None,
    sampler: Sampler | None = None,
    prefetch_factor: int | None = None,
) -> EpochLoader:
    """A loader yielding :class:`Batch` ``(x (N, 3, T, 25, 2), y (N,), keys)`` on the host.

    * ``ShardStream`` (any ``IterableDataset`` yielding batches): it batches and shuffles itself,
      so ``batch_size``/``shuffle``/``drop_last``/``sampler`` must stay unset; in exact mode the
      worker count is checked against the shard count here, before any worker starts.
    * Map-style datasets (``H5Samples``): ``batch_size`` is required; ``shuffle`` draws the order
      from the loader generator (see :class:`EpochLoader`); pass a ``DistributedSampler`` as
      ``sampler`` for DDP.

    Memory is pinned only when ``device`` is CUDA. ``persistent_workers`` defaults to
    ``num_workers > 0``.
    """
    device = torch.device(device)
    if isinstance(dataset, IterableDataset):
        if batch_size is not None or shuffle or drop_last or sampler is not None:
            raise ValueError(
                "an iterable dataset batches and shuffles itself: "
                "set batch_size/shuffle/drop_last on it, not on make_loader"
            )
        if hasattr(dataset, "check_workers"):
            dataset.check_workers(num_workers)
        collate: Callable[..., Batch] = _as_is
    else:
        if batch_size is None or batch_size < 1:
            raise ValueError(f"a map-style dataset needs batch_size >= 1, got {batch_size}")
        collate = collate_samples
    workers_kw: dict[str, Any] = {}
    if num_workers > 0:
        workers_kw = dict(
            persistent_workers=num_workers > 0 if persistent_workers is None else persistent_workers,
            prefetch_factor=prefetch_factor,
            worker_init_fn=seed_worker,
        )
    return EpochLoader(
        dataset,
        seed=seed,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        **workers_kw,
    )


def to_device(batch: Any, device: torch.device | str) -> Any:
    """Copy the tensors of ``batch`` (tensor, ``Batch``/named tuple, tuple, list, dict) to ``device``.

    Non-tensor items (keys) pass through. The copy is non-blocking only on CUDA, where the loader
    pinned the host memory.
    """
    device = torch.device(device)
    non_blocking = device.type == "cuda"

    def move(item: Any) -> Any:
        if isinstance(item, torch.Tensor):
            return item.to(device, non_blocking=non_blocking)
        if isinstance(item, tuple) and hasattr(item, "_fields"):
            return type(item)(*(move(part) for part in item))
        if isinstance(item, (list, tuple)):
            return type(item)(move(part) for part in item)
        if isinstance(item, dict):
            return {name: move(part) for name, part in item.items()}
        return item

    return move(batch)
