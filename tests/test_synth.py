"""The synthetic generator: real formats that parse back, ground truth that holds, determinism,
benchmark coverage, and the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actclr import registry
from actclr.cli.data import cli
from actclr.pipelines.ntu import parse_ntu
from actclr.pipelines.pkummd import parse_pkummd_labels, parse_pkummd_skeleton, pkummd_clips
from actclr.pipelines.sources import find_sources
from actclr.skeleton import PARENTS
from actclr.synth import generate
from actclr.synth.motions import MAX_CLASSES, PARTS, nuisance_program, program

#: NTU60 classes: arm, elbow, bow, nod head, squat, wave, and the two-person class A058.
NTU_CLASSES = [0, 4, 12, 15, 22, 26, 57]


@pytest.fixture(scope="module")
def ntu60(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ntu60"
    generate(out, "ntu60", classes=NTU_CLASSES, per_class=5, seed=7)
    return out


def _ground_truth(root: Path) -> dict:
    return json.loads((root / "ground_truth.json").read_text())


def _ntu_samples(root: Path, dataset: str = "ntu60") -> dict:
    return {f.name[:-9]: (parse_ntu(data := f.read_bytes(), f.location), data)
            for f in find_sources(dataset, [root]).files}


def test_ntu_files_parse_back_with_their_ground_truth(ntu60):
    truth = _ground_truth(ntu60)
    samples = _ntu_samples(ntu60)
    assert truth["dataset"] == "ntu60" and sorted(map(int, truth["classes"])) == NTU_CLASSES
    assert len(samples) == len(NTU_CLASSES) * 5 + len(truth["empty_files"])
    assert {name for name, (raw, _) in samples.items() if raw.is_empty} == set(truth["empty_files"])
    assert len({samples[n][0].meta["label"] for n in truth["empty_files"]}) == len(truth["empty_files"]) >= 1
    endings = {b"\r\n" in data for _, data in samples.values()}
    assert endings == {True, False}                                          # CRLF and LF files
    for name, (raw, _) in samples.items():
        if raw.is_empty:
            continue
        info = truth["classes"][str(raw.meta["label"])]
        assert 30 <= raw.num_frames <= 150
        assert raw.body_ids[raw.body_ids != 0].min() >= 72057594037931101       # 17-digit Kinect-like IDs
        people = raw.num_bodies - (name in truth["spurious_body_files"])
        assert people == (2 if info["two_person"] else 1)
        z = raw.xyz[..., 2][raw.body_ids != 0]
        assert z.min() > 1.5 and z.max() < 5.5                                # metres in front of the camera


def test_moving_joints_move_more_than_static_ones(ntu60):
    truth = _ground_truth(ntu60)
    for raw, _ in _ntu_samples(ntu60).values():
        if raw.is_empty:
            continue
        moving = truth["classes"][str(raw.meta["label"])]["moving_joints"]
        static = [j for j in range(1, 25) if j not in moving]
        relative = raw.xyz[:, 0] - raw.xyz[:, 0, :1]                          # joints relative to the spine base
        spread = relative.std(axis=0).mean(axis=1)
        assert spread[moving].mean() > 1.3 * spread[static].mean(), (raw.key, spread[moving].mean(),
                                                                     spread[static].mean())


def test_spurious_bodies_are_short_and_flat(ntu60):
    truth = _ground_truth(ntu60)
    samples = _ntu_samples(ntu60)
    assert truth["spurious_body_files"]
    for name in truth["spurious_body_files"]:
        raw = samples[name][0]
        ids, counts = np.unique(raw.body_ids[raw.body_ids != 0], return_counts=True)
        short = ids[counts.argmin()]
        assert counts.min() <= 8 and counts.max() == raw.num_frames
        t, s = np.nonzero(raw.body_ids == short)
        shape = raw.xyz[t, s]
        assert np.ptp(shape[..., 0], axis=1).min() > 0.8 * np.ptp(shape[..., 1], axis=1).max()


def test_every_benchmark_split_has_every_class(tmp_path):
    generate(tmp_path, "ntu120", classes=[0, 57, 60, 105], per_class=2, seed=1, empty_rate=0, spurious_rate=0)
    spec = registry.get_dataset("ntu120")
    seen = {}
    for raw, _ in _ntu_samples(tmp_path, "ntu120").values():
        setups = range(1, 18) if raw.meta["label"] < 60 else range(18, 33)
        assert raw.meta["setup"] in setups
        for name, bench in spec.benchmarks.items():
            seen.setdefault((name, raw.meta["label"]), set()).add(bench.split_of(raw.meta[bench.field]))
    assert len(seen) == len(spec.benchmarks) * 4 and all(sides == {"train", "test"} for sides in seen.values())


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("dataset, archives", [("ntu60", True), ("pkummd1", False)])
def test_same_seed_same_bytes(tmp_path, dataset, archives):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, dataset, classes=3, per_class=2, seed=seed, archives=archives)
    a, b, c = (_tree(tmp_path / name) for name in "abc")
    assert a == b and a != c
    if archives:
        assert list(a) == ["ground_truth.json", "nturgbd_skeletons_s001_to_s017.zip"]


@pytest.mark.parametrize("dataset", ["pkummd1", "pkummd2"])
def test_pkummd_videos_clips_and_splits(tmp_path, dataset):
    spec = registry.get_dataset(dataset)
    summary = generate(tmp_path, dataset, classes=13, per_class=3, seed=2, archives=dataset == "pkummd2")
    truth = _ground_truth(tmp_path)
    inventory = find_sources(dataset, [tmp_path])
    assert len(inventory.files) == summary["videos"] and not inventory.unpaired and not inventory.unknown
    seen, clips = {}, 0
    for video in inventory.files:
        xyz = parse_pkummd_skeleton(video.skeleton.read_bytes(), video.skeleton.location)
        rows = parse_pkummd_labels(video.labels.read_bytes(), video.labels.location)
        assert all(a.end < b.start for a, b in zip(rows, rows[1:]))          # idle frames between instances
        for clip in pkummd_clips(xyz, rows, video.video, spec.raw["part"], label_file=video.labels.location):
            clips += 1
            assert 40 <= clip.num_frames <= 150
            assert clip.num_bodies == (2 if truth["classes"][str(clip.meta["label"])]["two_person"] else 1)
            for name, bench in spec.benchmarks.items():
                seen.setdefault((name, clip.meta["label"]), set()).add(bench.split_of(clip.meta[bench.field]))
    assert clips == 13 * 3 == summary["samples"]
    assert len(seen) == len(spec.benchmarks) * 13 and all(sides == {"train", "test"} for sides in seen.values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="per_class"):
        generate("/nonexistent/never", "ntu60", classes=2, per_class=1)
    with pytest.raises(ValueError, match="classes"):
        generate("/nonexistent/never", "pkummd1", classes=52)


def test_cli_writes_and_refuses_a_non_empty_folder(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["synth", str(tmp_path / "raw"), "--dataset", "ntu60", "--classes", "2",
                                 "--per-class", "2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "files" in result.output and len(list((tmp_path / "raw" / "nturgb+d_skeletons").iterdir())) == 5
    again = runner.invoke(cli, ["synth", str(tmp_path / "raw"), "--classes", "2", "--per-class", "2"])
    assert again.exit_code != 0 and "not empty" in again.output


def test_nuisance_motion_never_touches_the_class_joints():
    rng = np.random.default_rng(0)
    for label0 in range(MAX_CLASSES):
        own = program(label0)
        for _ in range(3):
            distractor = nuisance_program(label0, 0.5, rng)
            driven = {d.joint for d in distractor.part.drivers}
            assert driven.isdisjoint({d.joint for d in own.part.drivers})
            assert set(distractor.moving_joints).isdisjoint(own.moving_joints), (own.name, distractor.name)
            assert distractor.part.amplitude == pytest.approx(
                next(p for p in PARTS if p.name == distractor.part.name).amplitude * 0.5)
    with pytest.raises(ValueError, match="strength"):
        nuisance_program(0, 0.0, rng)


def _joint_spread(root: Path) -> dict:
    """``{sample: (class-joint spread (n,), largest other-joint spread)}`` relative to the spine base."""
    truth, spread = _ground_truth(root), {}
    for name, (raw, _) in _ntu_samples(root).items():
        if not raw.is_empty:
            moving = truth["classes"][str(raw.meta["label"])]["moving_joints"]
            static = [j for j in range(1, 25) if j not in moving]
            per_joint = (raw.xyz[:, 0] - raw.xyz[:, 0, :1]).std(axis=0).mean(axis=1)
            spread[name] = (per_joint[moving], per_joint[static].max())
    return spread


def test_nuisance_moves_other_joints_and_leaves_the_class_motion_alone(ntu60, tmp_path):
    generate(tmp_path, "ntu60", classes=NTU_CLASSES, per_class=5, seed=7, nuisance=1.0)
    assert _ground_truth(tmp_path)["nuisance"] == 1.0 and _ground_truth(ntu60)["nuisance"] == 0.0
    clean, noisy = _joint_spread(ntu60), _joint_spread(tmp_path)
    assert clean.keys() == noisy.keys()
    for name in clean:  # the class motion (and all other random draws) are unchanged
        np.testing.assert_allclose(noisy[name][0], clean[name][0], atol=2e-3)
    assert np.mean([noisy[n][1] for n in noisy]) > 4 * np.mean([clean[n][1] for n in clean])
    with pytest.raises(ValueError, match="nuisance"):
        generate(tmp_path / "pku", "pkummd1", classes=2, per_class=2, nuisance=0.5)


def test_tilt_rotates_each_sample_rigidly_within_the_asked_range(ntu60, tmp_path):
    tilt = 20.0
    generate(tmp_path, "ntu60", classes=NTU_CLASSES, per_class=5, seed=7, tilt=tilt)
    assert _ground_truth(tmp_path)["tilt"] == tilt and _ground_truth(ntu60)["tilt"] == 0.0
    level, tilted = _ntu_samples(ntu60), _ntu_samples(tmp_path)
    assert level.keys() == tilted.keys()
    bones = [(j, p) for j, p in enumerate(PARENTS) if p >= 0]

    def lengths(x):
        return np.linalg.norm(np.stack([x[:, j] - x[:, p] for j, p in bones], 1), axis=-1)

    angles = []
    for name, (raw, _) in level.items():
        if raw.xyz.shape[0] == 0 or len(raw.body_ids) == 0:
            continue
        a, b = raw.xyz[:, 0], tilted[name][0].xyz[:, 0]  # first body (T, 25, 3)
        np.testing.assert_allclose(lengths(b), lengths(a), atol=0.03)  # rigid, up to sensor noise
        up_a, up_b = (np.mean(x[:, 20] - x[:, 0], axis=0) for x in (a, b))  # spine base -> shoulder centre
        cos = up_a @ up_b / np.linalg.norm(up_a) / np.linalg.norm(up_b)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    assert len(angles) >= 20
    assert max(angles) <= np.hypot(tilt, tilt) + 2.0 and np.median(angles) > 3.0
    with pytest.raises(ValueError, match="tilt"):
        generate(tmp_path / "pku", "pkummd1", classes=2, per_class=2, tilt=5.0)


def test_cli_actions_selects_classes_by_action_number(tmp_path):
    runner = CliRunner()
    out = tmp_path / "raw"
    result = runner.invoke(cli, ["synth", str(out), "--actions", "1,3,13", "--per-class", "2"])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "ground_truth.json").read_text())
    assert sorted(truth["classes"]) == ["0", "12", "2"]
    names = {p.stem[-4:] for p in (out / "nturgb+d_skeletons").glob("*.skeleton")}
    assert names <= {"A001", "A003", "A013"} and len(names) == 3
    for bad in (["--actions", "0,2"], ["--actions", "1,x"], ["--actions", "1", "--classes", "2"]):
        result = runner.invoke(cli, ["synth", str(tmp_path / "other"), *bad])
        assert result.exit_code == 2 and "--actions" in result.output + str(result.exception)
