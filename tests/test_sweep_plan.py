"""Sweep files: grid expansion, run names and order, seeds, the commands, and clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actclr.sweep.plan import SweepError, check_configs, load_sweep, plan_runs, resolve_sweep

RECIPE = "actclr_synth-xsub_joint_1xcpu_demo"


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def base(**changes) -> dict:
    spec = {"data": "data/synth", "benchmark": "xsub", "seeds": [3, 7], "set": ["train.epochs=1"],
            "evaluations": {"linear": {"epochs": 5, "val-fraction": 0},
                            "knn": {"k": [1, 5], "primary-k": 5, "bn-calibration": False},
                            "knn-embed": {"command": "knn", "feature": "embed"}},
            "arms": {"a": {"recipe": RECIPE, "set": ["optim.lr=0.01"]}, "b": {"recipe": RECIPE}}}
    return {**spec, **changes}


def test_arms_times_grid_levels_times_seeds_seed_major(tmp_path):
    grid = {"bs": {"bs4": ["data.batch_size=4"], "bs8": ["data.batch_size=8"]}, "wd": {"wd0": ["optim.weight_decay=0"]}}
    sweep = load_sweep(write(tmp_path, base(grid=grid)))
    assert [a.name for a in sweep.arms] == ["a+bs4+wd0", "a+bs8+wd0", "b+bs4+wd0", "b+bs8+wd0"]
    # common overrides first, then the arm's, then the grid levels' (later wins)
    assert sweep.arms[1].overrides == ("train.epochs=1", "optim.lr=0.01", "data.batch_size=8", "optim.weight_decay=0")
    assert sweep.arms[2].overrides == ("train.epochs=1", "data.batch_size=4", "optim.weight_decay=0")
    runs = plan_runs(sweep, tmp_path / "out")
    assert [(r.arm, r.seed) for r in runs] == [(a.name, s) for s in (3, 7) for a in sweep.arms]
    assert runs[0].dir == (tmp_path / "out" / "a+bs4+wd0" / "seed-3").resolve()


def test_commands_of_a_run(tmp_path):
    sweep = load_sweep(write(tmp_path, base()))
    run = plan_runs(sweep, tmp_path / "out", data=str(tmp_path / "other"))[1]  # arm b, seed 3
    data = str((tmp_path / "other").resolve())
    pretrain, linear, knn, embed = run.steps
    assert pretrain.argv == ("pretrain", "--data", data, "--benchmark", "xsub", "--config", RECIPE, "--seed", "3",
                             "--out", str(run.dir / "pretrain"), "--resume", "--set", "train.epochs=1")
    assert pretrain.result == run.dir / "pretrain" / "encoder.pt"
    assert pretrain.settings == {"data": data, "benchmark": "xsub", "recipe": RECIPE, "set": ["train.epochs=1"],
                                 "seed": 3}
    common = ("--data", data, "--benchmark", "xsub", "--checkpoint", str(run.dir / "pretrain" / "encoder.pt"),
              "--seed", "3")
    assert linear.argv == ("linear", *common, "--out", str(run.dir / "eval" / "linear"),
                           "--epochs", "5", "--val-fraction", "0")
    assert knn.argv[-5:] == ("--k", "1,5", "--primary-k", "5", "--no-bn-calibration")
    assert embed.argv[0] == "knn" and embed.out == run.dir / "eval" / "knn-embed" and embed.argv[-2:] == (
        "--feature", "embed")
    assert linear.result == run.dir / "eval" / "linear" / "metrics.json"
    assert run.log(knn) == run.dir / "logs" / "knn.log"


def test_reference_names_an_arm_after_the_grid(tmp_path):
    assert load_sweep(write(tmp_path, base())).reference is None
    spec = base(grid={"lr": {"lr1": ["optim.lr=0.1"], "lr2": ["optim.lr=0.2"]}}, reference="a+lr1")
    assert load_sweep(write(tmp_path, spec)).reference == "a+lr1"


def test_seed_count_and_evaluation_list(tmp_path):
    sweep = load_sweep(write(tmp_path, base(seeds=3, evaluations=["knn"])))
    assert sweep.seeds == (0, 1, 2)
    assert [(e.name, e.command, e.args) for e in sweep.evaluations] == [("knn", "knn", ())]


@pytest.mark.parametrize("changes, message", [
    ({"seed": [1]}, "unknown key 'seed'"),
    ({"seeds": [1, 1]}, "'seeds' must be"),
    ({"seeds": []}, "'seeds' must be"),
    ({"arms": {}}, "'arms' is empty"),
    ({"arms": {"../up": {"recipe": RECIPE}}}, "arm name '../up'"),
    ({"arms": {"a": {"recipe": RECIPE, "sets": []}}}, "arm 'a': unknown key 'sets'"),
    ({"arms": {"a": {"set": []}}}, "arm 'a': 'recipe'"),
    ({"arms": {"a": {"recipe": RECIPE, "set": ["train.seed=4"]}}}, "train.seed comes from 'seeds'"),
    ({"set": ["noequals"]}, "expected key.sub=value"),
    ({"evaluations": {"lin": {}}}, "command 'lin' is not one of"),
    ({"evaluations": {"linear": {"checkpoint": "x"}}}, "'checkpoint' is set by the sweep"),
    ({"evaluations": {"linear": {"--epochs": 3}}}, "without the leading --"),
    ({"grid": {"lr": {}}}, "'grid.lr' has no levels"),
    ({"reference": "nope"}, "'reference' 'nope' is not an arm"),
])
def test_bad_sweep_files_name_the_file_and_entry(tmp_path, changes, message):
    path = write(tmp_path, base(**changes))
    with pytest.raises(SweepError, match=message) as err:
        load_sweep(path)
    assert str(path) in str(err.value)


def test_invalid_yaml_and_missing_data(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("arms: [\n")
    with pytest.raises(SweepError, match=f"{path}: invalid YAML"):
        load_sweep(path)
    spec = base()
    del spec["data"]
    with pytest.raises(SweepError, match="no 'data' in the file; pass --data"):
        plan_runs(load_sweep(write(tmp_path, spec)), tmp_path / "out")
    with pytest.raises(SweepError, match="neither a file nor a shipped sweep"):
        resolve_sweep("no-such-sweep")


def test_configs_are_built_before_anything_runs(tmp_path):
    check_configs(load_sweep(write(tmp_path, base())))
    bad = base(arms={"a": {"recipe": RECIPE, "set": ["optim.lrr=0.1"]}})
    with pytest.raises(SweepError, match=r"arm 'a': .*optim.lrr"):
        check_configs(load_sweep(write(tmp_path, bad)))


def test_shipped_sweep_resolves_by_name_and_builds():
    sweep = load_sweep("actclr-vs-mocov2_synth-xsub_tiny")
    assert [a.name for a in sweep.arms] == ["actclr", "mocov2"] and sweep.seeds == (0, 1)
    assert [e.name for e in sweep.evaluations] == ["linear", "knn"]
    check_configs(sweep)
