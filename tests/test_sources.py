"""Finding raw files in folders and zip archives, missing lists, pairing, reports."""
from __future__ import annotations

import pickle
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from actclr.pipelines.errors import ParseError
from actclr.pipelines.ntu import parse_ntu
from actclr.pipelines.sources import RawFile, VideoFiles, find_sources, missing_list, missing_report

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FOLDER = "nturgb+d_skeletons"


def _zip_fixtures(path: Path, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for file in sorted((FIXTURES / "ntu").iterdir()):
            archive.write(file, f"{FOLDER}/{file.name}")
    return path


def _parse_all(inventory) -> dict:
    return {f.name: parse_ntu(f.read_bytes(), f.location) for f in inventory.files}


def test_directory_and_zip_give_identical_results(tmp_path):
    archive = _zip_fixtures(tmp_path / "nturgbd_skeletons_s001_to_s017.zip")
    from_dir = find_sources("ntu60", [FIXTURES / "ntu"])
    from_zip = find_sources("ntu60", [archive])
    assert [f.name for f in from_dir.files] == [f.name for f in from_zip.files]
    assert len(from_dir.files) == 10 and all(f.in_zip for f in from_zip.files)
    assert from_zip.files[0].location == f"{archive}/{FOLDER}/S001C001P001R001A001.skeleton"
    a, b = _parse_all(from_dir), _parse_all(from_zip)
    for name in a:
        np.testing.assert_array_equal(a[name].xyz, b[name].xyz)
        np.testing.assert_array_equal(a[name].body_ids, b[name].body_ids)
        assert a[name].meta == b[name].meta


def test_zip_inside_a_folder_duplicates_and_non_sample_files(tmp_path):
    _zip_fixtures(tmp_path / "downloads.zip")
    shutil.copytree(FIXTURES / "ntu", tmp_path / "loose")
    (tmp_path / "loose" / "README.skeleton").write_text("not a sample")
    (tmp_path / "loose" / "notes.txt").write_text("ignored: not a .skeleton file")
    inventory = find_sources("ntu60", [tmp_path])
    assert len(inventory.files) == 10 and all(f.in_zip for f in inventory.files)   # downloads.zip sorts first
    assert len(inventory.duplicates) == 10
    assert [u["file"] for u in inventory.unknown] == [str(tmp_path / "loose" / "README.skeleton")]


def test_missing_list_setups_and_unknown_actions(tmp_path):
    missing = missing_list("ntu60")
    assert len(missing) == 302 and "S001C002P005R002A008" in missing            # header lines dropped
    assert len(missing_list("ntu120")) == 535
    source = (FIXTURES / "ntu" / "S001C001P001R001A001.skeleton").read_bytes()
    for name in ("S001C002P005R002A008", "S001C001P001R001A001", "S018C001P001R001A061", "S001C001P001R001A099"):
        (tmp_path / f"{name}.skeleton").write_bytes(source)
    ntu60 = find_sources("ntu60", [tmp_path])
    assert [f.name for f in ntu60.files] == ["S001C001P001R001A001.skeleton"]
    assert ntu60.skipped == [{"file": str(tmp_path / "S001C002P005R002A008.skeleton"),
                              "reason": "official missing list"}]
    assert ntu60.excluded == 1                                                   # S018 is not NTU60
    assert "not one of the 60 classes" in ntu60.unknown[0]["reason"]
    assert sorted(ntu60.found) == ["S001C001P001R001A001", "S001C002P005R002A008"]
    ntu120 = find_sources("ntu120", [tmp_path])
    assert [f.name for f in ntu120.files] == ["S001C001P001R001A001.skeleton", "S001C001P001R001A099.skeleton",
                                              "S018C001P001R001A061.skeleton"]


def _read(raw: RawFile) -> int:
    return len(raw.read_bytes())


def test_raw_files_are_read_in_worker_processes(tmp_path):
    archive = _zip_fixtures(tmp_path / "a.zip")
    files = find_sources("ntu60", [archive]).files
    assert _read(files[0]) > 0                                                   # parent opens the archive first
    assert pickle.loads(pickle.dumps(files[0])) == files[0]
    with ProcessPoolExecutor(1) as pool:
        sizes = list(pool.map(_read, files[:3]))
    assert sizes == [(FIXTURES / "ntu" / f.name).stat().st_size for f in files[:3]]


def test_damaged_zip_member_is_a_parse_error(tmp_path):
    archive = _zip_fixtures(tmp_path / "broken.zip", zipfile.ZIP_STORED)
    member = f"{FOLDER}/S001C001P001R001A003.skeleton"
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(member)
    data = bytearray(archive.read_bytes())
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000
    data[offset] = ord("7") if data[offset] != ord("7") else ord("8")
    archive.write_bytes(bytes(data))
    raw = RawFile("S001C001P001R001A003.skeleton", str(archive), member)
    with pytest.raises(ParseError, match="damaged zip member") as caught:
        raw.read_bytes()
    assert caught.value.file == f"{archive}/{member}" and caught.value.line is None


def test_pkummd_pairing_by_folder_names(tmp_path):
    skeleton = FIXTURES / "pkummd" / "A10N08-L.txt"
    (tmp_path / "Skeleton_v2").mkdir()
    (tmp_path / "my labels").mkdir()
    for video in ("A10N08-L", "A01N02-M"):
        shutil.copy(skeleton, tmp_path / "Skeleton_v2" / f"{video}.txt")
    (tmp_path / "my labels" / "A10N08-L.txt").write_text("1,1,10,1\n")
    (tmp_path / "my labels" / "A05N01-R.txt").write_text("1,1,10,1\n")
    (tmp_path / "Skeleton_v2" / "0002-L.txt").write_text("part I file\n")
    with zipfile.ZipFile(tmp_path / "Label_PKUMMD_v2.zip", "w") as z:       # label archive: members at the root
        z.writestr("A01N02-M.txt", "2,5,9,2\n")
    inventory = find_sources("pkummd2", [tmp_path])
    assert [(v.video, v.labels.in_zip) for v in inventory.files] == [("A01N02-M", True), ("A10N08-L", False)]
    assert all(isinstance(v, VideoFiles) for v in inventory.files)
    assert {u["reason"] for u in inventory.unpaired} == {"no skeleton file"}
    assert inventory.excluded == 1                                               # the part I file
    assert sorted(inventory.found) == ["A01N02-M", "A10N08-L"]
    report = missing_report("pkummd2", inventory.found)
    assert report["found"] == 2 and report["missing"] == 1007 and report["per_subject"]["8"] == 1
    assert 8 not in report["absent_subjects"] and 1 in report["absent_subjects"]


def test_missing_report_for_ntu():
    names = ["S001C001P001R001A001.skeleton", "S001C002P001R001A001", "S017C001P001R001A001"]
    report = missing_report("ntu60", names)
    assert report["found"] == 3 and report["expected"] == 56880 and report["missing"] == 56877
    assert report["per_setup"]["1"] == 2 and report["per_setup"]["17"] == 1
    assert report["absent_setups"] == list(range(2, 17)) and not report["complete"]
    assert report["expected_after_missing_list"] == 56578
    views = missing_report("pkummd1", ["0002-L", "0002-M", "0291-L"])
    assert views["per_view"] == {"L": 2, "M": 1, "R": 0} and views["absent_views"] == ["R"]
