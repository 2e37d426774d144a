"""Recipes, overrides and validation of the training configuration."""
from __future__ import annotations

import re

import pytest
import yaml

from actclr.engine.config import (
    ConfigError,
    build_config,
    config_hash,
    defaults,
    encoder_config,
    list_recipes,
    load_recipe,
    phase_config,
    save_config,
)
from actclr.methods import OFFICIAL, method_defaults

RECIPE_NAME = re.compile(r"^[a-z0-9+-]+_[a-z0-9]+-x(sub|view|set)_(joint|motion|bone)_\d+x(b\d+|cpu)_(\d+e|demo)$")


def test_every_shipped_recipe_builds_and_is_named_by_the_grammar():
    names = list_recipes()
    assert "actclr_ntu60-xview_joint_1xb128_350e" in names and "actclr_synth-xsub_joint_1xcpu_demo" in names
    for name in names:
        assert RECIPE_NAME.match(name), name
        cfg = build_config(name)
        benchmark, stream = name.split("_")[1].split("-")[1], name.split("_")[2]
        assert (cfg["data"]["benchmark"], cfg["data"]["stream"]) == (benchmark, stream), name


def test_official_recipes_carry_the_published_settings():
    one = build_config("actclr_ntu60-xview_joint_1xb128_350e")
    four = build_config("actclr_ntu60-xview_joint_4xb128_350e")
    assert (one["optim"]["lr"], one["data"]["batch_size"], one["train"]["epochs"]) == (0.1, 128, 350)
    assert one["schedule"] == {**defaults()["schedule"], "milestones": [250]}
    assert one["method"]["queue_size"] == 65536 and one["augment"]["curriculum"]
    # only lr and, as the official trainer, SyncBatchNorm and DDP's buffer broadcast differ
    assert four["optim"]["lr"] == 0.4 and four["model"]["sync_bn"] and four["model"]["broadcast_buffers"]
    assert not one["model"]["sync_bn"] and not one["model"]["broadcast_buffers"]
    assert {**four, "optim": one["optim"], "model": one["model"]} == one
    official_cfg = build_config("actclr-official_ntu60-xview_joint_4xb128_350e")
    assert official_cfg["model"]["sync_bn"] and official_cfg["model"]["broadcast_buffers"]
    official = official_cfg["method"]
    assert official == {"name": "actclr", **method_defaults("actclr"), **OFFICIAL, "queue_size": 65536}
    two_phase = build_config("mocov2-warmup+actclr_ntu60-xview_joint_1xb128_650e")
    assert two_phase["warmup"]["epochs"] + two_phase["train"]["epochs"] == 650
    assert phase_config(two_phase, "warmup")["method"]["name"] == "mocov2"


def test_options_and_overrides_apply_in_order_with_yaml_values():
    cfg = build_config("actclr_ntu60-xview_joint_1xb128_350e", {"train.epochs": 4, "optim.lr": None},
                       ["train.epochs=6", "schedule.milestones=[2, 4]", "train.grad_clip=null",
                        "model.sync_bn=true", "warmup.method.name=mocov2", "warmup.method.tau=0.2",
                        "warmup.epochs=3", "warmup.optim.lr=0.5"])
    assert cfg["train"]["epochs"] == 6 and cfg["optim"]["lr"] == 0.1  # --set wins; None is skipped
    assert cfg["schedule"]["milestones"] == [2, 4] and cfg["train"]["grad_clip"] is None
    assert cfg["model"]["sync_bn"] is True
    warm = phase_config(cfg, "warmup")
    assert warm["method"] == {"name": "mocov2", **method_defaults("mocov2"), "tau": 0.2}
    assert warm["optim"] == {**cfg["optim"], "lr": 0.5}


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=0.1", "unknown key 'optim.lrr'"),
    ("method.queue_sise=16", "unknown key 'method.queue_sise'"),
    ("warmup.optim.gamma=0.5", "unknown key 'warmup.optim.gamma'"),
    ("method.name=mocov2", None),  # switching method re-bases the section ...
    ("train=3", "'train' must be a mapping"),
    ("data.stream=skeleton", "'data.stream' must be one of joint, motion, bone"),
    ("method.anchor=median", "'method': method option anchor='median'"),
    ("augment.views.weak=3", "view 'weak': expected a list of steps"),
    ("schedule.milestones=[300, 250]", "increasing"),
    ("warmup.epochs=5", "needs 'warmup.method.name'"),
    ("noequals", "expected key.sub=value"),
])
def test_bad_overrides_are_errors_naming_the_key(override, message):
    if message is None:
        cfg = build_config(None, {"data.benchmark": "xsub"}, [override])
        assert set(cfg["method"]) == {"name", *method_defaults("mocov2")}
        with pytest.raises(ConfigError, match="unknown key 'method.anchor'"):  # ... so ActCLR keys fail
            build_config(None, {"data.benchmark": "xsub"}, [override, "method.anchor=batch"])
        return
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(None, {"data.benchmark": "xsub"}, [override])


def test_recipe_errors_name_the_file(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("_base_: actclr_ntu60-xview_joint_1xb128_350e\ntrain:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(recipe))}: unknown key 'train.epoch'"):
        load_recipe(recipe)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_recipe(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="neither a file nor a shipped recipe"):
        load_recipe("no_such_recipe")
    with pytest.raises(ConfigError, match="'data.benchmark' is not set"):
        build_config(None)


def test_recipe_bases_resolve_beside_the_file_and_the_saved_config_round_trips(tmp_path):
    (tmp_path / "parent.yaml").write_text("data: {benchmark: xsub, batch_size: 8}\n")
    (tmp_path / "child.yaml").write_text("_base_: parent\noptim: {lr: 0.3}\n")
    cfg = build_config(tmp_path / "child.yaml")
    assert (cfg["data"]["batch_size"], cfg["optim"]["lr"]) == (8, 0.3)
    save_config(cfg, tmp_path / "run" / "config.yaml")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert list(saved)[:4] == ["data", "method", "model", "augment"]
    again = build_config(tmp_path / "run" / "config.yaml")
    assert config_hash(again) == config_hash(cfg)


def test_owned_sections_are_values_checked_by_their_owner():
    """The augmenter accepts any view name and the encoder a null projector, so the merge does too."""
    from actclr.augment import build_augmenter
    from actclr.models import build_encoder

    cfg = build_config("actclr_synth-xsub_joint_1xcpu_demo",
                       overrides=["augment.views.strong=[crop, {name: flip, p: 0.5}]", "method.view_extreme=strong"])
    assert cfg["augment"]["views"]["strong"] == ["crop", {"name": "flip", "p": 0.5}]
    assert build_augmenter(cfg["augment"]).names[-1] == "strong" and cfg["method"]["view_extreme"] == "strong"
    assert set(cfg["augment"]["views"]) == {"weak", "normal", "extreme", "aimclr_extreme", "strong"}
    cfg = build_config("actclr_synth-xsub_joint_1xcpu_demo", overrides=["model.projector=null"])
    assert cfg["model"]["projector"] is None and build_encoder(encoder_config(cfg)).projector is None
    again = build_config("actclr_synth-xsub_joint_1xcpu_demo",
                         overrides=["model.projector=null", "model.projector={hidden_dim: 8, out_dim: 4}",
                                    "model.projector.out_dim=6"])
    assert again["model"]["projector"] == {"hidden_dim": 8, "out_dim": 6}  # mappings still merge key by key


#: An override of an owned section and what its error says (the source, the section, the key).
OWNED_ERRORS = {
    "model.hidden_chanels=8": "--set model.hidden_chanels=8: 'model': unknown encoder option(s): ['hidden_chanels']",
    "model.projector=3": "--set model.projector=3: 'model': encoder option projector: null (no projector) or a "
                         "mapping of hidden_dim, out_dim, got 3",
    "model.projector.width=8": "encoder option projector",
    "augment.views.strong=3": "--set augment.views.strong=3: 'augment': augment config: view 'strong': expected",
    "augment.sead=1": "unknown keys ['sead']",
    "warmup.method.tau=0.2": "--set warmup.method.tau=0.2: 'warmup.method': unknown key 'warmup.method.tau'",
    "warmup.method.name=simclr": "--set warmup.method.name=simclr: unknown method 'simclr'",
    "model=3": "'model' must be a mapping",
}


def test_owned_section_errors_name_the_source_and_the_key(tmp_path):
    for override, message in OWNED_ERRORS.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            build_config(None, {"data.benchmark": "xsub"}, [override])
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("_base_: actclr_ntu60-xview_joint_1xb128_350e\nmodel:\n  hidden_chanels: 8\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(recipe))}: 'model': unknown encoder option"):
        load_recipe(recipe)
    recipe.write_text("method:\n  queue_sise: 8\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(recipe))}: 'method': unknown key 'method.queue_sise'"):
        load_recipe(recipe)


def test_ddp_keys_of_the_model_section_have_one_home():
    from actclr.engine.config import ENGINE_MODEL_KEYS, DDPOptions, ddp_options

    cfg = build_config("actclr_ntu60-xview_joint_4xb128_350e")
    assert ddp_options(cfg) == DDPOptions(sync_bn=True, broadcast_buffers=True)
    assert set(ENGINE_MODEL_KEYS) == {"sync_bn", "broadcast_buffers"}
    assert not set(encoder_config(cfg)) & set(ENGINE_MODEL_KEYS)
