"""Find the raw files of a dataset in directories and zip archives, without extracting anything.

``find_sources(dataset, paths)`` walks each path (a directory, searched recursively, zip archives
inside it included; a zip archive, read through its member list; or a single file) and sorts what
it finds into the files to parse and the files to report: skipped (official missing list), unknown
names, unpaired PKU-MMD files, duplicates, and bad inputs (a ``.zip`` that cannot be read as an archive: truncated,
damaged, unreadable). ``RawFile.read_bytes(limit)`` works in worker processes (the archive is
opened there) and refuses a file or archive member larger than ``limit`` without inflating it.
``missing_report`` compares what was found with the registry's expected counts.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

from actclr import registry

from .errors import ParseError
from .ntu import ntu_name_pattern
from .pkummd import pkummd_video

_EXTENSIONS = {"ntu": ".skeleton", "pkummd": ".txt"}
_OPEN_ZIPS: dict = {}
#: Default cap on one raw file or archive member: real NTU files stay under ~4 MB and PKU-MMD
#: skeleton files (whole videos) under ~15 MB; anything larger is refused as bad input.
MAX_FILE_MB = 64


@dataclass(frozen=True)
class RawFile:
    """A raw file: ``member`` (relative path, ``/``-separated) inside ``container`` (a directory
    or a zip archive). ``name`` is the basename."""

    name: str
    container: str
    member: str

    @property
    def in_zip(self) -> bool:
        return os.path.isfile(self.container)

    @property
    def location(self) -> str:
        """``container/member``: for archive members, the archive path followed by the member."""
        return f"{self.container.rstrip('/')}/{self.member}"

    def read_bytes(self, limit: int | None = None) -> bytes:
        """The file's bytes; archive damage (bad CRC, broken deflate data) raises ``ParseError``.

        With ``limit`` a file or member larger than ``limit`` bytes raises ``ParseError`` without
        being read: its size (a member's declared uncompressed size) is checked first, and reading
        stops at ``limit + 1`` bytes in case the declared size lies.
        """
        if not self.in_zip:
            path = Path(self.container) / self.member
            self._check_size(path.stat().st_size, limit, "bytes")
            with open(path, "rb") as f:
                return self._bounded(f, limit)
        try:
            archive = _open_zip(self.container)
            info = archive.getinfo(self.member)
            self._check_size(info.file_size, limit, "bytes uncompressed (declared by the archive)")
            with archive.open(info) as member:
                return self._bounded(member, limit)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ParseError(self.location, None, f"damaged zip member ({error})") from None
        except KeyError:
            raise ParseError(self.location, None, "member not found in the archive") from None

    def _check_size(self, size: int, limit: int | None, what: str) -> None:
        if limit is not None and size > limit:
            raise ParseError(self.location, None, f"{size} {what}, more than the {limit >> 20} MiB cap "
                                                  "(--max-file-mb); not read")

    def _bounded(self, stream, limit: int | None) -> bytes:
        """All of ``stream``, but at most ``limit`` bytes (``ParseError`` beyond)."""
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise ParseError(self.location, None, f"more than the {limit >> 20} MiB cap (--max-file-mb) "
                                                  "when read; reading stopped")
        return data


def _open_zip(path: str) -> zipfile.ZipFile:
    """The archive opened once per process (a forked worker never reuses its parent's handle)."""
    key = (path, os.getpid())
    if key not in _OPEN_ZIPS:
        try:
            _OPEN_ZIPS[key] = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise ParseError(path, None, f"cannot open zip archive ({error})") from None
    return _OPEN_ZIPS[key]


@dataclass(frozen=True)
class VideoFiles:
    """A PKU-MMD video: its skeleton file and its label file."""

    video: str
    skeleton: RawFile
    labels: RawFile


@dataclass
class Inventory:
    """What ``find_sources`` found for one dataset.

    ``files``: ``RawFile`` (NTU) or ``VideoFiles`` (PKU-MMD) to parse, sorted by name.
    ``skipped``/``unknown``/``unpaired``/``duplicates``: ``[{"file", "reason"}]`` reports.
    ``bad``: ``[{"file", "line", "reason"}]`` raw inputs that cannot be read at all (a damaged
    or truncated zip archive); they join ``dataset.json`` ``bad``.
    ``excluded``: files of the same format that belong to another dataset (e.g. NTU setups 18-32
    when preparing ntu60, or the other PKU-MMD part). ``found``: names of every sample file (NTU) or
    skeleton video (PKU-MMD) of the dataset that is present, including skipped and unpaired ones
    (for ``missing_report``).
    """

    dataset: str
    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    unpaired: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    bad: list = field(default_factory=list)
    excluded: int = 0
    found: list = field(default_factory=list)

    def summary(self) -> dict:
        """Counts of every category (for logs and ``dataset.json``)."""
        return {"dataset": self.dataset, "files": len(self.files), "skipped": len(self.skipped),
                "unknown": len(self.unknown), "unpaired": len(self.unpaired),
                "duplicates": len(self.duplicates), "bad": len(self.bad), "excluded": self.excluded}


def list_raw_files(path: str | Path, bad: list | None = None) -> list[RawFile]:
    """Every file under a directory (recursive; zip archives found there are listed member by
    member), in a zip archive, or the single file ``path``.

    A ``.zip`` (or, given directly, a file with the zip signature) that cannot be read as an
    archive is appended to ``bad`` as ``{"file", "line": None, "reason"}`` (``ParseError``
    without ``bad``).
    """
    path = Path(path)
    if path.is_dir():
        found = []
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() == ".zip":
                found += _zip_members(p, bad)
            elif p.is_file():
                found.append(RawFile(p.name, str(path), p.relative_to(path).as_posix()))
        return found
    if not path.exists():
        raise FileNotFoundError(f"raw input {path} does not exist")
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return _zip_members(path, bad)
    return [RawFile(path.name, str(path.parent), path.name)]


def _zip_members(path: Path, bad: list | None) -> list[RawFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(info.filename for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError) as error:
        reason = f"cannot read zip archive ({error}); truncated or damaged?"
        if bad is None:
            raise ParseError(str(path), None, reason) from None
        bad.append({"file": str(path), "line": None, "reason": reason})
        return []
    return [RawFile(PurePosixPath(m).name, str(path), m) for m in members]


@cache
def missing_list(dataset: str) -> frozenset:
    """Sample names (``S001C002P005R002A008``) of the dataset's shipped official missing list;
    header lines, which are not sample names, are dropped. Empty for datasets without a list."""
    list_name = registry.get_dataset(dataset).raw.get("missing_list")
    if not list_name:
        return frozenset()
    pattern = ntu_name_pattern()
    return frozenset(n for n in registry.read_list(list_name) if pattern.fullmatch(n + ".skeleton"))


def find_sources(dataset: str, paths: Sequence[str | Path]) -> Inventory:
    """Enumerate the raw inputs of ``dataset`` in ``paths`` (directories, zip archives, files)."""
    spec = registry.get_dataset(dataset)
    inventory = Inventory(dataset=dataset)
    extension = _EXTENSIONS[spec.format]
    candidates = [f for p in paths for f in list_raw_files(p, inventory.bad) if f.name.endswith(extension)]
    if spec.format == "ntu":
        _sort_ntu(spec, candidates, inventory)
    else:
        _sort_pkummd(spec, candidates, inventory)
    return inventory


def _first_of_each(files: Iterable, name_of, inventory: Inventory) -> dict:
    """``{name: item}`` keeping the first item of each name; later ones are reported."""
    kept: dict = {}
    for item in files:
        name = name_of(item)
        if name in kept:
            inventory.duplicates.append({"file": item.location, "reason": f"same name as {kept[name].location}"})
        else:
            kept[name] = item
    return kept


def _sort_ntu(spec, candidates: list, inventory: Inventory) -> None:
    low, high = spec.raw["setups"]
    missing = missing_list(spec.name)
    pattern = ntu_name_pattern()
    wanted = []
    for raw in candidates:
        match = pattern.fullmatch(raw.name)
        if match is None:
            inventory.unknown.append({"file": raw.location, "reason": "not an NTU sample name"})
        elif not low <= int(match["setup"]) <= high:
            inventory.excluded += 1
        elif not 1 <= int(match["action"]) <= spec.num_classes:
            action = int(match["action"])
            inventory.unknown.append({"file": raw.location,
                                      "reason": f"action {action} is not one of the {spec.num_classes} classes"})
        else:
            wanted.append(raw)
    for name, raw in sorted(_first_of_each(wanted, lambda r: r.name, inventory).items()):
        sample = name[: -len(".skeleton")]
        inventory.found.append(sample)
        if sample in missing:
            inventory.skipped.append({"file": raw.location, "reason": "official missing list"})
        else:
            inventory.files.append(raw)


def is_label_file(raw: RawFile, label_dir: str) -> bool:
    """A PKU-MMD label file: some folder of its path (or its archive's name) is the registry's
    ``label_dir`` or contains ``label`` (case-insensitive)."""
    folders = list(PurePosixPath(raw.member).parent.parts)
    if raw.in_zip:
        folders.append(Path(raw.container).stem)
    return any(f.lower() == label_dir.lower() or "label" in f.lower() for f in folders)


def _sort_pkummd(spec, candidates: list, inventory: Inventory) -> None:
    part = spec.raw["part"]
    other = 3 - part
    skeleton_files: list[RawFile] = []
    label_files: list[RawFile] = []
    for raw in candidates:
        video = pkummd_video(raw.name, part)
        if video is None:
            if pkummd_video(raw.name, other) is not None:
                inventory.excluded += 1
            else:
                inventory.unknown.append({"file": raw.location, "reason": f"not a PKU-MMD part {part} file name"})
            continue
        (label_files if is_label_file(raw, spec.raw["label_dir"]) else skeleton_files).append(raw)
    skeletons = _first_of_each(skeleton_files, lambda r: r.name, inventory)
    labels = _first_of_each(label_files, lambda r: r.name, inventory)
    for name in sorted(skeletons.keys() | labels.keys()):
        skeleton, label = skeletons.get(name), labels.get(name)
        if skeleton is not None:
            inventory.found.append(name[: -len(".txt")])
        if label is None:
            assert skeleton is not None  # every name has a skeleton or a label file
            inventory.unpaired.append({"file": skeleton.location, "reason": "no label file"})
        elif skeleton is None:
            inventory.unpaired.append({"file": label.location, "reason": "no skeleton file"})
        else:
            inventory.files.append(VideoFiles(video=name[: -len(".txt")], skeleton=skeleton, labels=label))


def missing_report(dataset: str, found_names: Iterable[str]) -> dict:
    """Compare the sample files found with the registry's expectations.

    ``found_names``: sample or video names (with or without extension), including files skipped
    by the missing list. NTU: counts per setup and the setups entirely absent; PKU-MMD: counts per
    view (part I) or per subject (part II) and the absent ones. Always ``expected``, ``found``,
    ``missing`` (= expected - found, at least 0) and ``complete``.
    """
    spec = registry.get_dataset(dataset)
    names = {n.rsplit("/", 1)[-1].removesuffix(".skeleton").removesuffix(".txt") for n in found_names}
    keys: list[int | str]
    every: list[int | str]
    if spec.format == "ntu":
        pattern = ntu_name_pattern()
        keys = [int(m["setup"]) for m in (pattern.fullmatch(n + ".skeleton") for n in names) if m]
        low, high = spec.raw["setups"]
        group, every = "setup", list(range(low, high + 1))
    else:
        part = spec.raw["part"]
        videos = [v for v in (pkummd_video(n, part) for n in names) if v]
        if part == 1:
            keys = [v["video"][-1] for v in videos]
            group, every = "view", ["L", "M", "R"]
        else:
            keys = [v["subject"] for v in videos]
            bench = spec.benchmarks["xsub"]
            group, every = "subject", sorted(set(bench.train) | set(bench.test))
    counts = Counter(keys)
    found = sum(counts.values())
    report = {
        "expected": spec.expected_files,
        "found": found,
        "missing": max(0, spec.expected_files - found),
        f"per_{group}": {str(k): counts.get(k, 0) for k in every},
        f"absent_{group}s": [k for k in every if counts.get(k, 0) == 0],
        "complete": found >= spec.expected_files,
    }
    if spec.format == "ntu":
        report["expected_after_missing_list"] = spec.expected_files - len(missing_list(dataset))
    return report
