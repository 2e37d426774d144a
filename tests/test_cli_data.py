"""``actclr-data prepare / info / verify / show`` through click's CliRunner."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from actclr.cli.data import cli

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
BAD_FILE = "S005C001P001R001A001.skeleton"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The NTU fixtures plus one malformed file, prepared with the CLI (exit 1: a bad file)."""
    raw = tmp_path_factory.mktemp("raw") / "ntu"
    shutil.copytree(FIXTURES / "ntu", raw)
    lines = (FIXTURES / "ntu" / "S001C001P001R001A001.skeleton").read_text().splitlines(keepends=True)
    lines[4] = "x" + lines[4]
    (raw / BAD_FILE).write_text("".join(lines))
    out = tmp_path_factory.mktemp("out") / "ntu60"
    result = run("prepare", "ntu60", "--raw", raw, "--out", out, "--workers", 1)
    return raw, out, result


def test_prepare_reports_bad_file_and_exits_1(prepared):
    _, out, result = prepared
    assert result.exit_code == 1
    assert f"{BAD_FILE}:5:" in result.output and "--skip-bad" in result.output
    assert "xsub" in result.output and "10 samples" in result.output
    info = json.loads((out / "dataset.json").read_text())
    assert [Path(b["file"]).name for b in info["bad"]] == [BAD_FILE] and info["bad"][0]["line"] == 5


def test_prepare_of_a_partial_tree_says_so_once_as_information(prepared):
    _, _, result = prepared
    text = " ".join(result.output.split())  # rich wraps lines at the console width
    assert text.count("files of the full dataset") == 1
    assert "warning: 11 of" not in text and "incomplete" not in text
    assert "11 of 56880 files of the full dataset (a partial or synthetic raw tree); setups with no file: " in text


def test_prepare_skip_bad_accepts_and_exits_0(prepared):
    raw, out, _ = prepared
    result = run("prepare", "ntu60", "--raw", raw, "--out", out, "--workers", 1, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "already holds this dataset" in result.output and BAD_FILE in result.output


def test_prepare_refuses_foreign_directory(prepared, tmp_path):
    raw, _, _ = prepared
    (tmp_path / "mine.txt").write_text("x")
    result = run("prepare", "ntu60", "--raw", raw, "--out", tmp_path, "--workers", 1)
    assert result.exit_code == 1 and "not empty" in result.output
    result = run("prepare", "ntu60", "--raw", raw, "--out", tmp_path / "o", "--param", "frames")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_info(prepared):
    _, out, _ = prepared
    result = run("info", out.as_uri())
    assert result.exit_code == 0, result.output
    info = json.loads((out / "dataset.json").read_text())
    for text in ("NTU RGB+D 60", "stgcn50", info["fingerprint"][:40], "xview", "skeletons.h5",
                 "1 bad (malformed) raw files", BAD_FILE, "setups with no file"):
        assert text in result.output.replace("\n", ""), text
    full = run("info", out, "--per-class")
    assert "handshaking" in full.output


def test_verify_ok_then_problem(prepared, tmp_path):
    _, out, _ = prepared
    result = run("verify", out)
    assert result.exit_code == 0 and "OK" in result.output
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "average_motion" / "xview.npy").write_bytes(b"garbage")
    result = run("verify", copy)
    assert result.exit_code == 1
    assert "average_motion/xview.npy: sha256 differs" in result.output


def test_verify_names_a_bad_shard_index_and_a_short_shard(prepared, tmp_path):
    _, out, _ = prepared
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    index_path = copy / "shards" / "xsub" / "test.json"
    index = json.loads(index_path.read_text())
    index["shards"][0]["num_samples"] += 1
    index_path.write_text(json.dumps(index))
    result = run("verify", copy)
    assert result.exit_code == 1
    assert "xsub/test.json: shard sizes add up to" in result.output.replace("\n", "")
    index["shards"][0]["num_samples"] -= 1
    index["num_samples"] += 1
    index["shards"][0]["num_samples"] += 1
    index_path.write_text(json.dumps(index))
    result = run("verify", copy)
    assert "counts disagree with the manifest" in result.output
    shard = index["shards"][0]
    assert f"{shard['url']}: read {shard['num_samples'] - 1} samples but the index lists {shard['num_samples']}" in \
        result.output.replace("\n", "")


def test_show_sample_and_average(prepared, tmp_path):
    _, out, _ = prepared
    png = tmp_path / "sample.png"
    result = run("show", out, "S001C003P008R002A058", "--out", png, "--frames", 4)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw_png = tmp_path / "raw.png"
    assert run("show", out, "S001C001P001R001A001", "--out", raw_png, "--raw").exit_code == 0
    assert raw_png.stat().st_size > 0
    avg = tmp_path / "avg.png"
    assert run("show", out, "--average", "xsub", "--out", avg).exit_code == 0
    assert avg.read_bytes()[:4] == b"\x89PNG"
    missing = run("show", out, "S001C001P001R001A009", "--out", tmp_path / "x.png")
    assert missing.exit_code == 1 and "did you mean" in missing.output
    assert run("show", out, "--out", tmp_path / "y.png").exit_code == 2
    assert run("show", out, "--average", "xset", "--out", tmp_path / "z.png").exit_code == 1
