"""Every shipped sweep file (configs/sweeps/) resolves without training: its arms' recipes and
overrides build, its command lines parse, and the paper-table sweeps change what they claim."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from actclr.augment import official_views
from actclr.cli.train import cli
from actclr.engine.config import build_config
from actclr.sweep.plan import check_configs, load_sweep

SWEEPS = sorted((Path(__file__).resolve().parents[1] / "configs" / "sweeps").glob("*.yaml"))


def effective(sweep) -> dict:
    """Arm name -> the configuration its pretraining builds (seed and benchmark as the sweep's)."""
    return {arm.name: build_config(arm.recipe, {"data.benchmark": sweep.benchmark, "train.seed": 0}, arm.overrides)
            for arm in sweep.arms}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_shipped_sweep_resolves_and_its_arms_differ(path, synth_dataset, tmp_path):
    sweep = load_sweep(path)
    check_configs(sweep)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["sweep", str(path), "--data", str(synth_dataset), "--out", str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output  # every command line parses; the data has the benchmark
    assert f"{len(sweep.arms) * len(sweep.seeds)} new" in result.output
    configs = effective(sweep)
    for (a, ca), (b, cb) in itertools.combinations(configs.items(), 2):
        assert json.dumps(ca, sort_keys=True) != json.dumps(cb, sort_keys=True), (a, b)  # a real switch each


@pytest.mark.parametrize("path", [p for p in SWEEPS if not p.stem.endswith("_tiny")], ids=lambda p: p.stem)
def test_paper_sweeps_have_five_seeds_and_one_recipe_line(path):
    sweep = load_sweep(path)
    assert len(sweep.seeds) == 5 and len({arm.recipe for arm in sweep.arms}) == 1
    assert path.read_text().count("&recipe ") == 1  # the recipe is one line to change
    assert sweep.reference is not None or len(sweep.arms) == 1  # differences paired by seed in the summary


def test_method_comparison_arms_train_equal_epochs():
    configs = effective(load_sweep("methods_synth-xsub"))
    epochs = {arm: cfg["warmup"]["epochs"] + cfg["train"]["epochs"] for arm, cfg in configs.items()}
    assert len(set(epochs.values())) == 1, epochs
    phases = {arm: (cfg["warmup"]["method"]["name"] if cfg["warmup"]["epochs"] else None, cfg["method"]["name"])
              for arm, cfg in configs.items()}
    assert phases == {"actclr": ("mocov2", "actclr"), "mocov2": (None, "mocov2"), "aimclr": (None, "aimclr"),
                      "aimclr-warmup+actclr": ("aimclr", "actclr")}
    # the MoCo v2 arm is the ActCLR arm's warm-up method, same settings, as the only phase
    assert configs["mocov2"]["method"] == configs["actclr"]["warmup"]["method"]


def test_table7_noise_arms_change_only_the_extreme_noise_and_the_region():
    configs = effective(load_sweep("table7-region_synth-xsub"))
    official = official_views()["extreme"]
    for arm, cfg in configs.items():
        extreme = cfg["augment"]["views"]["extreme"]
        std = float(arm.split("-")[0].removeprefix("noise")) if arm.startswith("noise") else 0.05
        assert extreme == [{**s, "std": std} if s["name"] == "noise" else s for s in official], arm
        method = cfg["method"]
        assert method["extreme_region"] == ("full" if arm.startswith("noise") and arm.endswith("-full")
                                            else "non_actionlet"), arm
        assert method["mix_region"] == ("full" if arm == "mix-full" else "non_actionlet"), arm


def test_table8_table9_and_fig3_set_the_options_their_rows_name():
    t8 = {arm: cfg["method"]["transforms"]
          for arm, cfg in effective(load_sweep("table8-transforms_synth-xsub")).items()}
    assert t8 == {"without-T": "none", "without-AdaIN+T_non": "actionlet_only", "without-T_non": "no_non_actionlet",
                  "full": "full"}
    t9 = {arm: cfg["method"]["safp"] for arm, cfg in effective(load_sweep("table9-safp_synth-xsub")).items()}
    assert t9 == {"without-SAFP": "none", "offline-SAFP": "key", "online-SAFP": "query", "online+offline-SAFP": "both"}
    fig3 = {ev.name: ev.args for ev in load_sweep("fig3-actionlet-features_synth-xsub").evaluations}
    regions = {name: args[args.index("--region") + 1] if "--region" in args else "whole" for name, args in fig3.items()}
    assert sorted(regions.values()) == ["actionlet", "actionlet", "non_actionlet", "non_actionlet", "whole", "whole"]
