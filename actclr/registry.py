"""Read ``datasets.yaml``: the registry of raw datasets, their classes and benchmarks."""
from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from actclr.resources import list_path, shared_path


@dataclass(frozen=True)
class Benchmark:
    """A train/test split rule over one manifest column."""

    name: str
    field: str
    train: tuple = ()
    test: tuple = ()
    test_list: str | None = None
    # dataclasses.field, spelled out: the attribute ``field`` above shadows the name in this body
    expected: dict = dataclasses.field(default_factory=dict)
    certainty: str = "official"

    def split_of(self, value: Any) -> str | None:
        """``'train'``, ``'test'`` or ``None`` for a sample whose ``field`` is ``value``."""
        if self.test_list is not None:
            return "test" if value in _read_names(self.test_list) else "train"
        if value in self.train:
            return "train"
        if value in self.test:
            return "test"
        return None


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``datasets.yaml``."""

    name: str
    format: str
    title: str
    file_pattern: str
    expected_files: int
    class_names: tuple
    benchmarks: dict
    raw: dict

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_id(self, label: int) -> str:
        """The dataset's own id of 0-based class ``label`` (``classes.id_format`` applied to
        ``label + 1``: NTU ``A002`` and PKU-MMD ``2`` for label 1)."""
        return self.raw["classes"].get("id_format", "{}").format(label + 1)

    @property
    def two_person(self) -> tuple:
        """1-based class ids of two-person (interaction) classes."""
        return tuple(self.raw.get("two_person", ()))


@cache
def _load() -> dict:
    with open(shared_path("datasets.yaml")) as f:
        return yaml.safe_load(f)


@cache
def _read_names(list_name: str) -> frozenset:
    with open(list_path(list_name)) as f:
        return frozenset(line.strip() for line in f if line.strip())


def read_list(list_name: str) -> frozenset:
    """Names in a shipped list (blank lines and surrounding spaces ignored)."""
    return _read_names(list_name)


def _class_names(spec: dict) -> tuple:
    with open(list_path(spec["classes"]["list"])) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    names = tuple(row["name"] for row in rows[: spec["classes"]["count"]])
    if len(names) != spec["classes"]["count"]:
        raise ValueError(f"{spec['classes']['list']} has {len(names)} classes, expected {spec['classes']['count']}")
    if spec["format"] == "pkummd":
        two = tuple(int(row["id"]) for row in rows if row.get("two_person") == "1")
        spec = {**spec, "two_person": two}
    return names, spec


def dataset_names() -> list:
    return list(_load()["datasets"])


@cache
def get_dataset(name: str) -> DatasetSpec:
    """The registry entry ``name`` (``ntu60``, ``ntu120``, ``pkummd1``, ``pkummd2``)."""
    datasets = _load()["datasets"]
    if name not in datasets:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(datasets)}")
    spec = datasets[name]
    names, spec = _class_names(spec)
    benchmarks = {
        b: Benchmark(name=b, field=r["field"], train=tuple(r.get("train", ())), test=tuple(r.get("test", ())),
                     test_list=r.get("test_list"), expected=dict(r.get("expected", {})),
                     certainty=r.get("certainty", "official"))
        for b, r in spec["benchmarks"].items()
    }
    return DatasetSpec(name=name, format=spec["format"], title=spec["title"], file_pattern=spec["file_pattern"],
                       expected_files=spec["expected_files"], class_names=names, benchmarks=benchmarks, raw=spec)


def pkummd_camera(view: str) -> int:
    """Camera id (1-3) of a PKU-MMD view letter."""
    return _load()["pkummd_views"][view]
