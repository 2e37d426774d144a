"""PKU-MMD skeleton and label parsing, clip cutting and the frame-index conventions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actclr.pipelines.errors import ParseError
from actclr.pipelines.pkummd import (
    clip_rows,
    file_interval,
    parse_pkummd_labels,
    parse_pkummd_skeleton,
    pkummd_clips,
    pkummd_video,
)
from actclr.pipelines.types import LabelRow

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "pkummd" / "A10N08-L.txt"


@pytest.fixture(scope="module")
def video() -> np.ndarray:
    return parse_pkummd_skeleton(FIXTURE.read_bytes(), FIXTURE.name)


def test_fixture_shape_and_bodies(video):
    data = FIXTURE.read_bytes()
    assert video.shape == (1040, 2, 25, 3) and video.dtype == np.float32
    assert data.count(b"\n") == 1040                                        # one line per frame
    assert not video[:312, 1].any()                                          # body 2 absent in rows 0-311
    assert video[312:, 1].reshape(728, -1).any(axis=1).all()                 # and present from row 312
    assert video[:, 0].reshape(1040, -1).any(axis=1).all()
    first = [float(v) for v in data.split(b"\n", 1)[0].split()]
    np.testing.assert_allclose(video[0].ravel(), np.asarray(first, np.float32))
    np.testing.assert_allclose(video[0, 0, 0], [-0.304560, 0.212575, 2.728912], rtol=1e-6)


def _fixture_lines() -> list:
    return FIXTURE.read_bytes().split(b"\n")


@pytest.mark.parametrize("edit, line, reason", [
    (lambda lines: lines.__setitem__(9, b" ".join(lines[9].split()[:149])), 10, "149 values, expected 150"),
    (lambda lines: lines.__setitem__(4, lines[4].replace(b"0.", b"x.", 1)), 5, "column 1:"),
    (lambda lines: lines.__setitem__(6, b"nan " + lines[6].split(b" ", 1)[1]), 7, "not finite"),
    (lambda lines: lines.insert(20, b""), 21, "blank line inside"),
])
def test_skeleton_errors_name_the_line(edit, line, reason):
    lines = _fixture_lines()
    edit(lines)
    with pytest.raises(ParseError) as caught:
        parse_pkummd_skeleton(b"\n".join(lines), "Skeleton_v2/A10N08-L.txt")
    assert (caught.value.file, caught.value.line) == ("Skeleton_v2/A10N08-L.txt", line)
    assert reason in caught.value.reason
    with pytest.raises(ParseError, match="empty skeleton file"):
        parse_pkummd_skeleton(b"\n\n", "empty.txt")


def test_extra_columns_keep_the_first_150_with_a_warning(video):
    lines = [line + b" 0.5 0.25" for line in _fixture_lines()[:30]]
    with pytest.warns(UserWarning, match="first 150"):
        wide = parse_pkummd_skeleton(b"\r\n".join(lines) + b"\r\n", "wide.txt")
    np.testing.assert_array_equal(wide, video[:30])


def test_labels_and_their_errors():
    rows = parse_pkummd_labels(b"\xef\xbb\xbf5,10,20,1\r\n\r\n51,1,3,2,\n", "Label/A10N08-L.txt")
    assert rows == [LabelRow(4, 10, 20, 1, line=1), LabelRow(50, 1, 3, 2, line=3)]
    for text, line, reason in [(b"1,2,3\n", 1, "3 fields"), (b"1,2,3,4\n52,1,2,1\n", 2, "outside 1..51"),
                               (b"1,a,3,1\n", 1, "integers"), (b"1,9,3,1\n", 1, "bad interval")]:
        with pytest.raises(ParseError) as caught:
            parse_pkummd_labels(text, "Label/x.txt")
        assert (caught.value.file, caught.value.line) == ("Label/x.txt", line) and reason in caught.value.reason


def test_conventions_are_inverse_and_differ_by_one():
    row = LabelRow(0, 10, 20, 1)
    assert clip_rows(row) == (9, 20) and clip_rows(row, "mamp") == (10, 20)
    for convention in ("aimclr", "mamp"):
        start, end = file_interval(9, 20, convention)
        assert clip_rows(LabelRow(0, start, end, 1), convention) == (9, 20)
    with pytest.raises(ValueError, match="convention"):
        clip_rows(row, "other")


def test_clips_keys_meta_and_body_ids(video):
    rows = [LabelRow(13, 301, 320, 2, line=1), LabelRow(4, 1, 1040, 1, line=2)]
    first, whole = pkummd_clips(video, rows, "A10N08-L", 2)
    assert first.key == "A10N08-L_001" and whole.key == "A10N08-L_002"
    assert first.meta == {"label": 13, "video": "A10N08-L", "start": 300, "end": 320, "camera": 1, "subject": 8}
    np.testing.assert_array_equal(first.xyz, video[300:320])
    assert (first.body_ids[:, 0] == 1).all()
    assert list(first.body_ids[:, 1]) == [0] * 12 + [2] * 8                  # body 2 enters at row 312
    assert first.num_bodies == 2 and whole.num_frames == 1040
    mamp = pkummd_clips(video, rows[:1], "A10N08-L", 2, convention="mamp")[0]
    np.testing.assert_array_equal(mamp.xyz, video[301:320])


def test_rows_outside_the_video_name_the_label_file(video):
    for row in (LabelRow(0, 1000, 1041, 1, line=7), LabelRow(0, 0, 5, 1, line=3)):
        with pytest.raises(ParseError) as caught:
            pkummd_clips(video, [row], "A10N08-L", 2, label_file="Label_PKUMMD_v2/A10N08-L.txt")
        assert (caught.value.file, caught.value.line) == ("Label_PKUMMD_v2/A10N08-L.txt", row.line)
        assert "outside the video's 1040 frames" in caught.value.reason
    with pytest.raises(ParseError, match="not a PKU-MMD part 1 video name"):
        pkummd_clips(video, [], "A10N08-L", 1)


def test_video_names():
    assert pkummd_video("0291-R.txt", 1) == {"video": "0291-R", "camera": 3, "subject": None}
    assert pkummd_video("Skeleton_v2/A01N13-M", 2) == {"video": "A01N13-M", "camera": 2, "subject": 13}
    assert pkummd_video("A01N13-M.txt", 1) is None and pkummd_video("0291-X.txt", 1) is None
