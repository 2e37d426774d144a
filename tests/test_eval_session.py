"""The library side of the evaluation commands: sessions, one run function per command, the
torch-free vocabularies the command line offers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from actclr.cli.train import cli
from actclr.eval.runs import knn_run
from actclr.eval.session import SessionError, SessionOptions, open_session

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_open_session_chooses_benchmark_stream_and_calibrates(synth_dataset, tiny):
    options = SessionOptions(str(synth_dataset), "random", benchmark="xview", model_config=tiny, seed=1)
    session = open_session(options)
    assert (session.benchmark, session.stream, session.device.type) == ("xview", "joint", "cpu")
    assert session.encoder_info["name"] == "random (seed 1) + BN stats"
    assert session.title("kNN") == "kNN: random (seed 1) + BN stats on ntu60/xview (joint)"
    metrics = session.metrics("knn", "t", {"k": [1]}, {"kNN top-1": 1.0}, {"top1": 1.0}, [], 0.5)
    assert metrics["data"]["benchmark"] == "xview" and metrics["stream"] == "joint" and metrics["top1"] == 1.0


@pytest.mark.parametrize("changes, message", [
    ({}, "pass --benchmark (the dataset has xsub, xview)"),
    ({"benchmark": "xset"}, "no benchmark 'xset' (has xsub, xview)"),
])
def test_session_errors_name_the_option(synth_dataset, tiny, changes, message):
    with pytest.raises(SessionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_session(SessionOptions(str(synth_dataset), "random", model_config=tiny, bn_calibration=False, **changes))
    with pytest.raises(SessionError, match="--model-config only applies to --checkpoint random"):
        open_session(SessionOptions(str(synth_dataset), "run/encoder.pt", model_config=tiny))


def test_a_run_function_is_the_command(synth_dataset, tiny, tmp_path):
    """``knn_run`` from Python writes what ``actclr-train knn`` writes, and returns it."""
    options = SessionOptions(str(synth_dataset), "random", benchmark="xsub", model_config=tiny)
    metrics = knn_run(options, tmp_path / "lib", ks=(1, 5), primary_k=5)
    written = json.loads((tmp_path / "lib" / "metrics.json").read_text())
    assert written == {"created": written["created"], **metrics}
    args = ["knn", "--data", str(synth_dataset), "--benchmark", "xsub", "--checkpoint", "random",
            "--model-config", tiny, "--out", str(tmp_path / "cli"), "--k", "1,5", "--primary-k", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    command = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert command["headline"] == metrics["headline"] and command["knobs"] == metrics["knobs"]
    with pytest.raises(SessionError, match="--primary-k 3 is not among --k 1,5"):
        knn_run(options, tmp_path / "never", ks=(1, 5), primary_k=3)
    assert not (tmp_path / "never").exists()


def test_session_errors_are_usage_errors_on_the_command_line(synth_dataset, tiny, tmp_path):
    result = CliRunner().invoke(cli, ["knn", "--data", str(synth_dataset), "--checkpoint", "random",
                                      "--model-config", tiny, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pass --benchmark (the dataset has xsub, xview)" in result.output


def test_vocabularies_and_command_modules_import_without_torch():
    code = ("import sys, actclr.constants, actclr.cli.train.linear, actclr.cli.train.knn, "
            "actclr.cli.train.actionlet, actclr.cli.train.pretrain; assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
