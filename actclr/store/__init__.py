"""The prepared dataset directory (format in ``docs/data-format.md``): writers, reader and checks.

Writers live in ``hdf5``, ``shards``, ``manifest``, ``average``, ``fingerprint``, ``checksums``,
``atomic`` and ``partial`` (chunk files of an unfinished run); ``actclr.pipelines.prepare``
orchestrates them. ``reader`` opens a dataset (local or remote), ``verify`` checks one.
A dataset is untrusted input: ``paths`` checks every name read from it, ``members`` owns the
shard member vocabulary and its safe decoders, ``shardfile`` reads a shard strictly (hashing it
as it streams, through ``streams``); their errors derive from ``errors.DatasetError``.
"""
from actclr.store.fingerprint import compute_fingerprint
from actclr.store.reader import PreparedDataset, open_dataset
from actclr.store.verify import verify_dataset

__all__ = ["PreparedDataset", "compute_fingerprint", "open_dataset", "verify_dataset"]
