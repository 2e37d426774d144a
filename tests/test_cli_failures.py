"""Every command fails with one line on stderr (exit 2: usage, 1: data), and the small truths of the CLI."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from rich.console import Console

from actclr.cli.data import cli as data_cli
from actclr.cli.failures import describe
from actclr.cli.progress import ConsoleProgress
from actclr.cli.train import cli as train_cli
from actclr.profiles import PROFILES, get_profile, list_profiles, settable_params
from actclr.store import open_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EVAL_COMMANDS = ("linear", "knn", "finetune", "segment", "actionlet")


def invoke(cli, args, **env):
    return CliRunner(env={"COLUMNS": "200", **env}).invoke(cli, [str(a) for a in args])


def fails(cli, args, code: int, **env) -> str:
    """Run a command that must fail with exit ``code`` and ONE line on stderr; that line."""
    result = invoke(cli, args, **env)
    lines = result.stderr.splitlines()
    assert result.exit_code == code, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def random_encoder(tiny_recipe: str) -> list:
    return ["--checkpoint", "random", "--model-config", tiny_recipe]


@pytest.fixture(scope="module")
def xview_train_only(synth_dataset, tmp_path_factory):
    """The synthetic raw tree without its camera-1 files, prepared: the xview test split is empty."""
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset

    root = tmp_path_factory.mktemp("partial")
    raw = synth_dataset.parent / "raw"
    for path in raw.rglob("*.skeleton"):
        if "C001" not in path.name:
            target = root / "raw" / path.relative_to(raw)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return prepare_dataset(PrepareOptions("ntu60", (root / "raw",), root / "prepared")).out


# -- the central rules ------------------------------------------------------------------------

def test_usage_errors_are_one_line_with_exit_2():
    line = fails(train_cli, ["knn", "--out", "x"], 2)
    assert "Missing option '--data'" in line and "actclr-train knn --help" in line
    assert "No such command 'nope'" in fails(data_cli, ["nope"], 2)


def test_unexpected_errors_hint_at_the_debug_variable_which_prints_the_traceback(synth_dataset, monkeypatch):
    import actclr.cli.data.info as info

    def broken(ds):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(info, "overview_table", broken)
    line = fails(data_cli, ["info", synth_dataset], 1)
    assert line == "Error: unexpected ZeroDivisionError: boom (set ACTCLR_DEBUG=1 for the traceback)"
    debug = invoke(data_cli, ["info", synth_dataset], ACTCLR_DEBUG="1")
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "in broken" in debug.stderr and debug.stderr.splitlines()[-1].startswith("Error: unexpected")


def test_a_data_loader_workers_error_is_reduced_to_the_original_message():
    err = OSError("Caught OSError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
                  '  File "x.py", line 1, in f\nOSError: /d/skeletons.h5: cannot read this HDF5 file: truncated')
    assert describe(err) == (1, "/d/skeletons.h5: cannot read this HDF5 file: truncated")
    assert describe(PermissionError(13, "Permission denied", "/d/x.h5")) == (1, "/d/x.h5: Permission denied")


# -- the cases of issue 14 --------------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_available_device(synth_dataset, tiny, tmp_path):
    line = fails(train_cli, ["knn", "--data", synth_dataset, *random_encoder(tiny), "--out", tmp_path / "k",
                             "--device", "cuda"], 2)
    assert "CUDA is not available" in line and "--device cpu" in line
    line = fails(train_cli, ["pretrain", "--data", synth_dataset, "--out", tmp_path / "p", "--benchmark", "xview",
                             "--device", "cuda"], 2)
    assert "CUDA is not available" in line and not (tmp_path / "p").exists()


@pytest.mark.parametrize("command", EVAL_COMMANDS + ("pretrain",))
def test_a_path_that_is_not_a_prepared_dataset(command, tiny, tmp_path):
    not_prepared = tmp_path / "raw"
    not_prepared.mkdir()
    options = ["--benchmark", "xview"] + ([] if command == "pretrain" else random_encoder(tiny))
    line = fails(train_cli, [command, "--data", not_prepared, "--out", tmp_path / "out", *options], 1)
    assert line == f"Error: {not_prepared}: no dataset.json (not a prepared dataset, or incomplete)"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["knn", "linear"])
def test_a_truncated_skeletons_h5_is_named(command, synth_dataset, tiny, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synth_dataset, copy)
    h5 = copy / "skeletons.h5"
    size = h5.stat().st_size
    with open(h5, "r+b") as f:
        f.truncate(size // 2)
    epochs = ["--epochs", "1"] if command == "linear" else []
    line = fails(train_cli, [command, "--data", copy, *random_encoder(tiny), "--benchmark", "xview",
                             "--out", tmp_path / "out", *epochs], 1)
    assert line == (f"Error: {h5}: cannot read this HDF5 file: truncated ({size // 2} of {size} bytes; "
                    "copy or download it again)")


def test_pretrain_without_config_on_a_small_dataset_says_what_to_change(synth_dataset, tmp_path):
    line = fails(train_cli, ["pretrain", "--data", synth_dataset, "--out", tmp_path / "run", "--benchmark", "xview"], 1)
    # recipe defaults: batch 128 and 4 workers; the x-view training split has 84 samples in 2 shards
    assert "no full batch of 128" in line and "--batch-size 42 or less" in line and "--config" in line
    assert not (tmp_path / "run").exists()


def test_workers_above_the_shards_are_lowered_to_them(synth_dataset, tmp_path):
    from actclr.engine.config import build_config
    from actclr.engine.dist import init_distributed
    from actclr.engine.trainer import Trainer

    cfg = build_config("actclr_synth-xsub_joint_1xcpu_demo", {"data.benchmark": "xview", "data.workers": 5},
                       ["model.hidden_channels=8", "model.out_channels=16", "monitor.every=0"])
    out = io.StringIO()
    trainer = Trainer(cfg, open_dataset(synth_dataset), tmp_path, init_distributed("cpu"),
                      console=Console(file=out, width=200))
    assert trainer.workers == 2 and trainer.loader.num_workers == 2
    assert trainer.steps_per_epoch == trainer.stream.batches_per_rank(2) > 0
    assert "data.workers 5 -> 2: the xview training split has 2 shard(s) for 1 rank(s)" in out.getvalue()


def test_set_names_the_key_that_was_set(synth_dataset, tmp_path):
    base = ["pretrain", "--data", synth_dataset, "--out", tmp_path / "run", "--benchmark", "xview"]
    line = fails(train_cli, base + ["--set", "optim.lr=abc"], 2)
    assert "'optim.lr' must be a positive number, got 'abc'" in line and "warmup" not in line
    assert "'warmup.optim.lr'" in fails(train_cli, base + ["--set", "warmup.optim.lr=abc"], 2)


def test_listed_profile_parameters_work_and_the_others_are_refused(tmp_path, synth_dataset):
    help_text = invoke(data_cli, ["prepare", "--help"]).output.replace("\n", " ")
    help_text = " ".join(help_text.split())
    for name in list_profiles():
        listed = settable_params(name)
        assert f"{name}: {', '.join(listed)}" in help_text
        defaults = PROFILES[name]()
        for param in listed:  # every listed parameter is accepted (here with its default value)
            assert get_profile(name, **{param: getattr(defaults, param)}).params[param] == getattr(defaults, param)
        assert "name" not in listed and "FIXED" not in listed
    raw = synth_dataset.parent / "raw"
    for param in ("name=stgcn50", "FIXED=1"):
        line = fails(data_cli, ["prepare", "ntu60", "--raw", raw, "--out", tmp_path / "o", "--param", param], 2)
        key = param.split("=")[0]
        assert line == (f"Error: Invalid value for --param: profile stgcn50: unknown parameter(s) ['{key}']; "
                        f"settable: {settable_params('stgcn50')} (see 'actclr-data prepare --help')")
    assert not (tmp_path / "o").exists()


def test_knn_on_an_empty_test_split_says_which_and_why(xview_train_only, tiny, tmp_path):
    line = fails(train_cli, ["knn", "--data", xview_train_only, *random_encoder(tiny), "--benchmark", "xview",
                             "--out", tmp_path / "k"], 1)
    assert line.startswith(f"Error: {xview_train_only}: the xview test split is empty: it holds the samples "
                           "whose camera is 1; the ")
    assert "have camera 2, 3 (prepared from a partial raw tree?)" in line


# -- small truths -----------------------------------------------------------------------------

def test_python_m_actclr_cli_data_works_like_the_console_script():
    out = subprocess.run([sys.executable, "-m", "actclr.cli.data", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "prepare" in out.stdout and "verify" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "actclr.cli.data", "info"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.splitlines() == [
        "Error: Missing argument 'LOCATION'. (see 'actclr-data info --help')"]


@pytest.mark.parametrize("command", ["knn", "linear", "finetune"])
def test_feature_extraction_shows_progress_on_stderr(command, synth_dataset, tiny, tmp_path):
    args = [command, "--data", synth_dataset, *random_encoder(tiny), "--benchmark", "xview", "--out", tmp_path / "o"]
    result = invoke(train_cli, args + ([] if command == "knn" else ["--epochs", "1", "--batch-size", "32"]))
    assert result.exit_code == 0, result.output
    phase = "predict" if command == "finetune" else "features"
    assert f"{phase}: test: 36/36" in result.stderr.splitlines()
    if command != "finetune":
        assert "features: train: " in result.stderr
    assert "BatchNorm statistics: train: 84/84" in result.stderr
    assert "wrote" in result.stdout and "features:" not in result.stdout  # results stay on stdout


def test_progress_draws_bars_on_a_terminal():
    out = io.StringIO()
    with ConsoleProgress(Console(file=out, force_terminal=True, width=100)) as shown:
        for done in (10, 20, 36):
            shown.progress("features: test", done, 36)
    assert "features: test" in out.getvalue() and "36/36" in out.getvalue()


def test_info_lists_missing_classes_by_action_id(synth_dataset):
    result = invoke(data_cli, ["info", synth_dataset])
    assert result.exit_code == 0, result.output
    info = json.loads((synth_dataset / "dataset.json").read_text())
    counts = info["per_class"]["xview"]["train"]
    assert counts[10] == 0 and counts[1] > 0  # 10 synthetic classes: A011 and later have no samples
    row = next(line for line in result.output.splitlines() if "xview/train" in line)
    assert "A011, A012" in row and " 10, 11" not in row and "A002" not in row
    full = invoke(data_cli, ["info", synth_dataset, "--per-class"]).output
    assert "A060" in full and "A002" in full
