"""``manifest.parquet``: one row per sample, sorted by key (see ``docs/data-format.md``)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from actclr.registry import DatasetSpec
from actclr.store.atomic import atomic_path

FORMAT_VERSION = 1
SPLITS = ("train", "test")

#: Per-sample columns before the benchmark split columns (``xsub``, ``xview``, ``xset``).
SAMPLE_FIELDS = (
    pa.field("key", pa.string(), nullable=False),
    pa.field("label", pa.int32(), nullable=False),
    pa.field("subject", pa.int32()),
    pa.field("camera", pa.int32()),
    pa.field("setup", pa.int32()),
    pa.field("replication", pa.int32()),
    pa.field("video", pa.string()),
    pa.field("start", pa.int32()),
    pa.field("end", pa.int32()),
    pa.field("frames", pa.int32(), nullable=False),
    pa.field("bodies", pa.int32(), nullable=False),
)
SAMPLE_COLUMNS = tuple(f.name for f in SAMPLE_FIELDS)


def manifest_schema(benchmarks: Iterable[str], dataset: str, profile: dict) -> pa.Schema:
    """Schema with one string split column per benchmark and the ``actclr`` JSON metadata."""
    meta = {"dataset": dataset, "format_version": FORMAT_VERSION, "profile": profile}
    fields = list(SAMPLE_FIELDS) + [pa.field(b, pa.string()) for b in benchmarks]
    return pa.schema(fields, metadata={"actclr": json.dumps(meta, sort_keys=True)})


def with_splits(rows: list, spec: DatasetSpec) -> list:
    """Copies of the sample ``rows`` (dicts) with a ``train``/``test``/``None`` value per benchmark."""
    return [{**row, **{b: rule.split_of(row.get(rule.field)) for b, rule in spec.benchmarks.items()}}
            for row in rows]


class ManifestBuilder:
    """Collects sample rows chunk by chunk (a few dozen bytes per sample) into a Table."""

    def __init__(self, spec: DatasetSpec, profile: dict):
        self.spec = spec
        self.schema = manifest_schema(spec.benchmarks, spec.name, profile)
        self._batches: list = []

    def add(self, rows: list) -> pa.RecordBatch:
        """Append sample rows (dicts with :data:`SAMPLE_COLUMNS`); returns them with split columns."""
        batch = pa.RecordBatch.from_pylist(with_splits(rows, self.spec), schema=self.schema)
        self._batches.append(batch)
        return batch

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self._batches, schema=self.schema)


def write_manifest(path: str | os.PathLike, table: pa.Table) -> None:
    """Atomically write ``table`` as Parquet (zstd; one row group up to a million rows)."""
    with atomic_path(path) as tmp:
        pq.write_table(table.combine_chunks(), tmp, compression="zstd")


def read_manifest(source) -> pa.Table:
    """Read a manifest from a path or a file-like object."""
    return pq.read_table(source)


def manifest_meta(table: pa.Table) -> dict:
    """The ``actclr`` schema metadata (dataset, format_version, profile)."""
    raw = (table.schema.metadata or {}).get(b"actclr")
    if raw is None:
        raise ValueError("manifest has no 'actclr' schema metadata")
    return json.loads(raw)


def split_mask(table: pa.Table, benchmark: str, split: str) -> np.ndarray:
    """Boolean row mask ``(N,)`` of the samples in ``split`` of ``benchmark``."""
    column = table.column(benchmark).to_numpy(zero_copy_only=False)
    return column == split


def split_rows(table: pa.Table, benchmark: str, split: str) -> np.ndarray:
    """Row indices (sorted, int64) of ``split`` of ``benchmark``."""
    return np.flatnonzero(split_mask(table, benchmark, split)).astype(np.int64)
