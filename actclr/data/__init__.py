"""Loading prepared datasets: streamed shards (``ShardStream``), HDF5 rows (``H5Samples``), loaders."""
from actclr.data.batch import Batch, collate_samples
from actclr.data.h5samples import H5Samples
from actclr.data.loader import EpochLoader, make_loader, to_device
from actclr.data.stream import CorruptShardError, ShardStream
from actclr.store.shards import ShardIndex, read_shard_index

__all__ = [
    "Batch",
    "CorruptShardError",
    "EpochLoader",
    "H5Samples",
    "ShardIndex",
    "ShardStream",
    "collate_samples",
    "make_loader",
    "read_shard_index",
    "to_device",
]
