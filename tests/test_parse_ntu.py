"""parse_ntu on the real fixtures (values from shared/reference/datasets.md section 4 and
fixtures/SOURCES.md) and on corrupted copies (every error names the file and the right line)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from actclr.pipelines.errors import ParseError
from actclr.pipelines.ntu import _diagnose, ntu_sample, parse_ntu

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
NTU = FIXTURES / "ntu"

# name: (frames, bodies per frame, distinct body ids) from fixtures/SOURCES.md
TABLE = {
    "S001C001P001R001A001": (103, 1, 1), "S001C001P001R001A002": (158, 1, 1),
    "S001C001P001R001A003": (104, 1, 1), "S001C001P001R001A004": (99, 1, 1),
    "S001C001P001R001A005": (54, 1, 1), "S001C001P001R001A011": (82, 1, 1),
    "S001C003P008R002A058": (70, 2, 2), "S002C001P003R001A003": (100, 1, 1),
    "S003C001P015R001A034": (71, 1, 1), "S004C002P003R001A017": (124, 1, 1),
}
A001 = "S001C001P001R001A001.skeleton"


def _read(name: str) -> bytes:
    return (NTU / name).read_bytes()


def _naive(data: bytes) -> list:
    """Independent reference: per frame, the xyz of every body, read line by line."""
    lines = iter(data.decode().split())
    frames = []
    for _ in range(int(next(lines))):
        bodies = []
        for _ in range(int(next(lines))):
            for _ in range(10):
                next(lines)
            joints = [[float(next(lines)) for _ in range(12)][:3] for _ in range(int(next(lines)))]
            bodies.append(joints)
        frames.append(bodies)
    return frames


@pytest.mark.parametrize("name", sorted(TABLE))
def test_fixture_matches_table_and_naive_reader(name):
    data = _read(name + ".skeleton")
    raw = parse_ntu(data, name + ".skeleton")
    frames, per_frame, distinct = TABLE[name]
    assert raw.key == name
    assert raw.xyz.shape == (frames, per_frame, 25, 3) and raw.xyz.dtype == np.float32
    assert raw.body_ids.shape == (frames, per_frame) and raw.body_ids.dtype == np.uint64
    assert raw.num_bodies == distinct and (raw.body_ids != 0).all() and not raw.is_empty
    np.testing.assert_array_equal(raw.xyz, np.asarray(_naive(data), np.float32))
    # the line-by-line checker accepts every real file (fast and slow paths agree)
    assert _diagnose(data, name) is None
    if distinct == 1:
        assert data.count(b"\n") == 1 + 28 * frames      # line-count identity of one-body files


def test_first_file_values_and_meta():
    raw = parse_ntu(_read(A001), A001)
    assert raw.body_ids[0, 0] == 72057594037931101
    np.testing.assert_allclose(raw.xyz[0, 0, 0], [0.2181153, 0.1725972, 3.785547], rtol=1e-7)
    np.testing.assert_allclose(raw.xyz[0, 0, 1], [0.232329, 0.432664, 3.714767], atol=1e-6)
    assert raw.meta == {"setup": 1, "camera": 1, "subject": 1, "replication": 1, "label": 0}


def test_two_body_ids_stay_distinct_beyond_float64():
    raw = parse_ntu(_read("S001C003P008R002A058.skeleton"), "S001C003P008R002A058.skeleton")
    assert _read("S001C003P008R002A058.skeleton").count(b"\r\n") > 0            # CRLF file
    assert list(raw.body_ids[0]) == [72057594037944738, 72057594037944734]
    assert float(72057594037944738) == float(72057594037944734)                  # why ints matter
    assert raw.meta["label"] == 57 and raw.meta["camera"] == 3 and raw.meta["subject"] == 8


def test_e_notation_file_parses_exactly():
    data = _read("S004C002P003R001A017.skeleton")
    assert data.count(b"E-") == 5
    raw = parse_ntu(data, "S004C002P003R001A017.skeleton")
    np.testing.assert_array_equal(raw.xyz, np.asarray(_naive(data), np.float32))


def test_crlf_and_lf_give_the_same_result():
    lf = _read(A001)
    crlf = lf.replace(b"\n", b"\r\n")
    a, b = parse_ntu(lf, A001), parse_ntu(crlf, A001)
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.body_ids, b.body_ids)


def _frames(data: bytes) -> tuple[int, list]:
    """Frame count and the raw lines of each frame of a one-body-per-frame file."""
    lines = data.split(b"\n")
    return int(lines[0]), [lines[1 + 28 * f: 29 + 28 * f] for f in range(int(lines[0]))]


def test_zero_body_frames_and_empty_files():
    count, frames = _frames(_read(A001))
    rest = [line for frame in frames[2:] for line in frame]
    data = b"\n".join([str(count + 2).encode(), *frames[0], b"0", *frames[1], b"0", *rest]) + b"\n"
    raw = parse_ntu(data, A001)
    assert raw.xyz.shape == (count + 2, 1, 25, 3)
    assert raw.body_ids[1, 0] == 0 and raw.body_ids[3, 0] == 0 and not raw.xyz[[1, 3]].any()
    np.testing.assert_array_equal(raw.xyz[2], parse_ntu(_read(A001), A001).xyz[1])
    no_bodies = parse_ntu(b"3\r\n0\r\n0\r\n0\r\n", A001)
    assert no_bodies.is_empty and no_bodies.xyz.shape == (3, 0, 25, 3) and no_bodies.body_ids.shape == (3, 0)
    no_frames = parse_ntu(b"0\n", A001)
    assert no_frames.is_empty and no_frames.xyz.shape == (0, 0, 25, 3)


def _lines(data: bytes) -> list:
    return data.split(b"\n")


def _join(lines: list) -> bytes:
    return b"\n".join(lines)


def _replace_token(data: bytes, line: int, index: int, token: bytes) -> bytes:
    lines = _lines(data)
    tokens = lines[line - 1].split()
    tokens[index] = token
    lines[line - 1] = b" ".join(tokens)
    return _join(lines)


def _drop_line(data: bytes, line: int) -> bytes:
    lines = _lines(data)
    del lines[line - 1]
    return _join(lines)


def _drop_last_token(data: bytes, line: int) -> bytes:
    lines = _lines(data)
    lines[line - 1] = b" ".join(lines[line - 1].split()[:-1])
    return _join(lines)


# Frame f (1-based) of A001 starts at line 2 + 28 (f - 1): body count, info line, joint count, 25 joints.
CORRUPTIONS = {
    "truncated at a line end": (lambda d: _join(_lines(d)[:100]) + b"\n", 101, "unexpected end of file"),
    "truncated inside a line": (lambda d: _join(_lines(d)[:150] + [_lines(d)[150][:30]]), 151, "expected 12"),
    "non-numeric token": (lambda d: _replace_token(d, 500, 4, b"abc"), 500, "'abc' is not a number"),
    "joint count 24": (lambda d: _replace_token(d, 88, 0, b"24"), 88, "joint count is 24, expected 25"),
    "joint line dropped": (lambda d: _drop_line(d, 95), 113, "1 value, expected 12"),
    "joint line with 11 values": (lambda d: _drop_last_token(d, 205), 205, "11 values, expected 12"),
    "frame count too large": (lambda d: _replace_token(d, 1, 0, b"104"), 1, "ends after 103 frames"),
    "frame count too small": (lambda d: _replace_token(d, 1, 0, b"102"), 2 + 28 * 102, "trailing data"),
    "nan in a joint": (lambda d: _replace_token(d, 300, 1, b"nan"), 300, "not finite"),
    "inf in the body info line": (lambda d: _replace_token(d, 3, 7, b"-inf"), 3, "not finite"),
    "bodyID not an integer": (lambda d: _replace_token(d, 31, 0, b"7.2e16"), 31, "bodyID"),
    "negative body count": (lambda d: _replace_token(d, 30, 0, b"-1"), 30, "non-negative integer"),
    "empty file": (lambda d: b"", 1, "expected frame count"),
}


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corruption_names_file_and_line(case, crlf):
    corrupt, line, reason = CORRUPTIONS[case]
    data = corrupt(_read(A001))
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    with pytest.raises(ParseError) as caught:
        parse_ntu(data, "raw/" + A001)
    error = caught.value
    assert (error.file, error.line) == ("raw/" + A001, line), str(error)
    assert reason in error.reason
    assert str(error).startswith(f"raw/{A001}:{line}: ")


def test_unknown_file_name():
    with pytest.raises(ParseError, match="not an NTU sample name") as caught:
        parse_ntu(_read(A001), "S001C001P001R001.skeleton")
    assert caught.value.line is None and caught.value.file == "S001C001P001R001.skeleton"


def test_name_fields_and_errors_pickle():
    key, meta = ntu_sample("nturgb+d_skeletons/S017C002P040R002A060.skeleton")
    assert key == "S017C002P040R002A060"
    assert meta == {"setup": 17, "camera": 2, "subject": 40, "replication": 2, "label": 59}
    error = pickle.loads(pickle.dumps(ParseError("f.skeleton", 7, "bad")))
    assert (error.file, error.line, error.reason) == ("f.skeleton", 7, "bad")
