"""actclr.data: ShardStream splitting/epochs/errors, H5Samples, make_loader, to_device."""
from __future__ import annotations

import functools
import http.server
import io
import itertools
import tarfile
import threading
from collections import Counter

import numpy as np
import pytest
import torch
from shardtools import SHAPE, index_of, key_of, tensor_of, write_h5, write_split
from torch.utils.data import DataLoader

from actclr.data import Batch, CorruptShardError, H5Samples, ShardStream, make_loader, to_device
from actclr.data.splitting import (
    exact_batches_per_rank,
    resampled_stream_quota,
    shard_order,
    stream_shards,
)
from actclr.data.stream import read_npy

SIZES = [8, 8, 8, 8, 7, 7, 7, 7, 7]  # 67 samples over 9 shards, sizes differ by at most one


def epoch_batches(stream: ShardStream, num_workers: int = 2, epoch: int = 0) -> list[Batch]:
    loader = make_loader(stream, "cpu", num_workers=num_workers, persistent_workers=False)
    loader.set_epoch(epoch)
    batches = iter(loader)
    try:
        return list(batches)
    except Exception as exn:
        # Free the iterator now: left to the cycle collector (the traceback holds it), its worker
        # shutdown finds its queues already finalised and waits torch's 5 s join timeout.
        del batches
        error = exn.with_traceback(None)
    raise error


def keys_of(batches: list[Batch]) -> list[str]:
    return [key for batch in batches for key in batch.keys]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    write_split(root, SIZES)
    return root


def test_exact_mode_reads_every_sample_once_across_ranks_and_workers(split):
    per_rank = []
    for rank in range(2):
        stream = ShardStream.from_dataset_dir(
            split, "xsub", "train", 4, drop_last=False, seed=3, rank=rank, world_size=2
        )
        batches = epoch_batches(stream)
        per_rank.append(batches)
        assert len(batches) >= stream.batches_per_rank(num_workers=2)
        for x, y, keys in batches:
            ids = [index_of(key) for key in keys]
            assert torch.equal(x, torch.from_numpy(np.stack([tensor_of(i) for i in ids])))
            assert y.tolist() == [i % 60 for i in ids]
    keys = keys_of(per_rank[0]) + keys_of(per_rank[1])
    assert Counter(keys) == Counter(key_of(i) for i in range(sum(SIZES)))
    assert set(keys_of(per_rank[0])).isdisjoint(keys_of(per_rank[1]))


def test_batches_have_the_documented_shapes_and_types(split):
    stream = ShardStream.from_dataset_dir(split, "xsub", "train", 5, seed=0, rank=0, world_size=1)
    batches = epoch_batches(stream, num_workers=0)
    assert len(batches) == stream.batches_per_rank(0) == sum(SIZES) // 5  # drop_last, one stream
    x, y, keys = batches[0]
    assert isinstance(batches[0], Batch)
    assert x.shape == (5, *SHAPE) and x.dtype == torch.float32
    assert y.shape == (5,) and y.dtype == torch.int64
    assert len(keys) == 5 and all(isinstance(key, str) for key in keys)


def test_order_changes_per_epoch_and_is_reproducible_with_persistent_workers(split):
    def make():
        return ShardStream.from_dataset_dir(split, "xsub", "train", 4, drop_last=False, seed=11, rank=1, world_size=2)

    persistent = make_loader(make(), "cpu", num_workers=2, persistent_workers=True)
    epoch0 = keys_of(list(persistent))
    persistent.set_epoch(1)
    epoch1 = keys_of(list(persistent))
    assert epoch0 != epoch1
    assert epoch1 == keys_of(epoch_batches(make(), epoch=1))  # fresh workers, same (seed, epoch)
    assert epoch0 == keys_of(epoch_batches(make(), epoch=0))
    other_seed = ShardStream.from_dataset_dir(split, "xsub", "train", 4, drop_last=False, seed=12, rank=1, world_size=2)
    assert keys_of(epoch_batches(other_seed)) != epoch0


def test_set_epoch_reaches_persistent_spawned_workers(split):
    """The epoch lives in shared memory, so it also reaches workers that got a pickled copy."""
    stream = ShardStream.from_dataset_dir(split, "xsub", "train", 8, seed=2, rank=0, world_size=1)
    loader = DataLoader(
        stream, batch_size=None, num_workers=1, persistent_workers=True, multiprocessing_context="spawn"
    )
    epoch0 = keys_of(list(loader))
    stream.set_epoch(1)
    epoch1 = keys_of(list(loader))
    fresh = ShardStream.from_dataset_dir(split, "xsub", "train", 8, seed=2, rank=0, world_size=1)
    assert epoch0 != epoch1 == keys_of(epoch_batches(fresh, num_workers=0, epoch=1))


def test_too_few_shards_for_exact_mode_is_a_clear_error(tmp_path):
    write_split(tmp_path, [5, 5, 5])
    stream = ShardStream.from_dataset_dir(tmp_path, "xsub", "train", 4, rank=0, world_size=2)
    expected = r"3 shards cannot feed 2 rank\(s\) x 2 worker\(s\) = 4 streams.*resampled.*num_workers <= 1"
    with pytest.raises(ValueError, match=expected):
        make_loader(stream, "cpu", num_workers=2)
    # without make_loader's early check the workers raise it (DataLoader re-raises it; no hang)
    with pytest.raises(ValueError, match="3 shards cannot feed"):
        list(DataLoader(stream, batch_size=None, num_workers=2))


def test_resampled_mode_gives_every_rank_the_same_deterministic_count(tmp_path):
    write_split(tmp_path, [5, 5, 5])  # fewer shards than streams is fine when resampling

    def run(rank, epoch=0, drop_last=False):
        stream = ShardStream.from_dataset_dir(
            tmp_path, "xsub", "train", 4, mode="resampled", samples_per_epoch=31, drop_last=drop_last, shuffle_buffer=8,
            seed=5, rank=rank, world_size=2,
        )
        batches = epoch_batches(stream, epoch=epoch)
        assert len(batches) == stream.batches_per_rank(num_workers=2)
        return keys_of(batches)

    rank0, rank1 = run(0), run(1)
    assert len(rank0) == len(rank1) == 31 // 2
    assert run(0) == rank0 and run(0, epoch=1) != rank0 and rank1 != rank0
    assert len(run(0, drop_last=True)) == len(run(1, drop_last=True)) == 12


def test_truncated_shard_error_names_the_shard(tmp_path):
    paths = write_split(tmp_path, [6, 6])
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])
    stream = ShardStream.from_dataset_dir(tmp_path, "xsub", "train", 2, rank=0, world_size=1)
    with pytest.raises(CorruptShardError, match=f"shard {paths[1]}: unreadable after [0-9]+ samples: ReadError"):
        epoch_batches(stream, num_workers=1)
    # cut between two samples: the tar reads cleanly, the count in the index catches it
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        third = next(m.offset for m in tar.getmembers() if m.name.startswith(key_of(8)))
    paths[1].write_bytes(data[:third])
    with pytest.raises(CorruptShardError, match=f"shard {paths[1]}: sha256 differs from dataset.json"):
        epoch_batches(stream, num_workers=0)
    unverified = ShardStream.from_dataset_dir(tmp_path, "xsub", "train", 2, verify=False, rank=0, world_size=1)
    with pytest.raises(CorruptShardError, match=f"shard {paths[1]}: read 2 samples but the index lists 6"):
        epoch_batches(unverified, num_workers=0)


def test_bad_sample_error_names_shard_and_key(tmp_path):
    paths = write_split(tmp_path, [3, 3], members={4: {"skeleton.npy": b"not an array"}})
    stream = ShardStream([str(p) for p in paths], 2, rank=0, world_size=1)
    with pytest.raises(CorruptShardError, match=f"shard {paths[1]}: sample '{key_of(4)}': skeleton.npy is not a valid"):
        epoch_batches(stream, num_workers=0)
    write_split(tmp_path, [3, 3], members={1: {"skeleton.npy": np.zeros((3, 50, 25), np.float32)}})
    expected = rf"shard {paths[0]}: sample '{key_of(1)}': skeleton.npy is float32 \(3, 50, 25\), expected"
    with pytest.raises(CorruptShardError, match=expected):
        epoch_batches(stream, num_workers=0)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_read_npy_matches_numpy_and_refuses_pickles():
    for array in (np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.asfortranarray(np.ones((3, 5), np.float64))):
        for version in ((1, 0), (2, 0)):
            stream = io.BytesIO()
            np.lib.format.write_array(stream, array, version=version)
            decoded = read_npy(stream.getvalue())
            assert decoded.dtype == array.dtype and np.array_equal(decoded, array)
    stream = io.BytesIO()
    np.save(stream, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickles"):
        read_npy(stream.getvalue())


def test_from_dataset_dir_reads_file_and_http_urls(split):
    expected = sorted(key_of(i) for i in range(sum(SIZES)))
    as_file = ShardStream.from_dataset_dir(split.as_uri(), "xsub", "train", 10, drop_last=False, rank=0, world_size=1)
    assert as_file.urls[0].startswith(str(split))  # the toolkit builds shard locations from the dataset's
    assert sorted(keys_of(epoch_batches(as_file, num_workers=0))) == expected
    handler = functools.partial(QuietHandler, directory=str(split))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        stream = ShardStream.from_dataset_dir(url, "xsub", "train", 10, drop_last=False, rank=0, world_size=1)
        keys = keys_of(epoch_batches(stream, num_workers=2))
        server.shutdown()
    assert sorted(keys) == expected


def test_exact_batch_guarantee_holds_for_every_shard_permutation():
    sizes = [5, 5, 4, 4, 4, 5, 4]
    bound = exact_batches_per_rank(sizes, world_size=2, num_workers=2, batch_size=3, drop_last=True)
    for epoch in range(30):
        order = shard_order(len(sizes), seed=0, epoch=epoch, shuffle=True)
        assert sorted(order) == list(range(len(sizes)))
        actual = [
            sum(sum(sizes[s] for s in stream_shards(order, rank * 2 + w, 4)) // 3 for w in range(2))
            for rank in range(2)
        ]
        assert all(a >= b for a, b in zip(actual, bound))
    assert exact_batches_per_rank([6] * 8, 2, 2, 3, drop_last=True) == [8, 8]


def test_resampled_quotas_add_up_to_the_rank_total():
    for per_rank, batch, workers, drop_last in itertools.product([1, 7, 16, 33], [4, 5], [0, 1, 3], [False, True]):
        quotas = [resampled_stream_quota(per_rank, batch, workers, w, drop_last) for w in range(max(workers, 1))]
        assert sum(quotas) == (per_rank // batch * batch if drop_last else per_rank)
        assert sum(q % batch != 0 for q in quotas) <= int(not drop_last)


def test_h5samples_rows_labels_keys_with_workers(tmp_path):
    path = tmp_path / "skeletons.h5"
    write_h5(path, 23)
    rows = [20, 3, 7, 11, 0, 22, 15, 5, 9]
    dataset = H5Samples(path, rows)
    x, label, key = dataset[1]  # opens the file in the main process before the workers fork
    assert x.shape == SHAPE and x.dtype == torch.float32 and (label, key) == (3, key_of(3))
    assert dataset.labels().tolist() == [i % 60 for i in rows]
    loader = make_loader(dataset, "cpu", batch_size=4, num_workers=2)
    batches = list(loader)
    assert [len(b.keys) for b in batches] == [4, 4, 1]
    assert keys_of(batches) == [key_of(i) for i in rows]
    assert torch.equal(torch.cat([b.x for b in batches]), torch.from_numpy(np.stack([tensor_of(i) for i in rows])))
    assert torch.cat([b.y for b in batches]).tolist() == [i % 60 for i in rows]
    assert len(H5Samples(path)) == 23


def test_h5samples_rejects_bad_files_and_indices(tmp_path):
    path = tmp_path / "skeletons.h5"
    write_h5(path, 4)
    with pytest.raises(IndexError, match=r"skeletons.h5: indices \[4\] are outside \[0, 4\)"):
        H5Samples(path, [0, 4])
    with pytest.raises(KeyError, match="no dataset 'videos'"):
        H5Samples(path, rows="videos")


def test_shuffled_map_loader_is_a_function_of_seed_and_epoch(tmp_path):
    path = tmp_path / "skeletons.h5"
    write_h5(path, 12)

    def order(seed, epoch):
        loader = make_loader(H5Samples(path), "cpu", batch_size=4, shuffle=True, seed=seed)
        loader.set_epoch(epoch)
        return keys_of(list(loader))

    assert order(1, 0) == order(1, 0) and order(1, 1) == order(1, 1)
    assert order(1, 0) != order(1, 1) and order(1, 0) != order(2, 0)
    assert sorted(order(1, 1)) == sorted(key_of(i) for i in range(12))


def test_loader_options_and_to_device(split):
    stream = ShardStream.from_dataset_dir(split, "xsub", "train", 4, rank=0, world_size=1)
    with pytest.raises(ValueError, match="batches and shuffles itself"):
        make_loader(stream, "cpu", batch_size=4)
    loader = make_loader(stream, torch.device("cpu"), num_workers=1)
    assert not loader.pin_memory and loader.persistent_workers
    batch = next(iter(loader))
    moved = to_device(batch, "cpu")
    assert isinstance(moved, Batch) and moved.x.device.type == "cpu" and moved.keys == batch.keys
