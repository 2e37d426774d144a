"""The evaluation commands end to end on the tiny prepared synthetic dataset (``synth_dataset``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from eval_helpers import TINY
from matplotlib.image import imread

from actclr.cli.train import cli
from actclr.engine.checkpoint import save_checkpoint
from actclr.eval import holdout
from actclr.eval.encoders import load_encoder
from actclr.eval.linear import linear_evaluation
from actclr.eval.recipes import SGDRecipe
from actclr.store import open_dataset
from actclr.store.manifest import split_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")


def invoke(*args: str) -> dict:
    """Run ``actclr-train ARGS``; return the written metrics.json."""
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    assert (out / "summary.md").read_text().startswith("# ")
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory) -> Path:
    """An ``encoder.pt`` (random weights, seed 3) that claims another source dataset."""
    encoder, info = load_encoder("random", CPU, seed=3, model_cfg=TINY)
    path = tmp_path_factory.mktemp("enc") / "run" / "encoder.pt"
    save_checkpoint({"format": "actclr-encoder/1", "encoder": encoder.state_dict(), "model": info["model"],
                     "stream": "joint", "method": "actclr", "epochs": 1, "benchmark": "xview",
                     "dataset": {"name": "ntu120", "fingerprint": "f" * 64}}, path)
    return path


def test_linear_reads_test_labels_once_after_training(synth_dataset, monkeypatch):
    dataset = open_dataset(synth_dataset)
    test_rows = set(split_rows(dataset.manifest, "xview", "test").tolist())
    events = []
    real = holdout.labels_of

    def recording(manifest, rows):
        events.append(("test-labels" if set(np.asarray(rows).tolist()) & test_rows else "train-labels", len(rows)))
        return real(manifest, rows)

    monkeypatch.setattr(holdout, "labels_of", recording)
    encoder, _ = load_encoder("random", CPU, seed=0, model_cfg=TINY)
    recipe = SGDRecipe(epochs=4, lr=1.0, batch_size=32, milestones=(3,))
    evaluated = linear_evaluation(encoder, dataset, "xview", stream="joint", device=CPU, recipe=recipe,
                                  on_epoch=lambda row: events.append(("epoch", row["epoch"])))
    kinds = [kind for kind, _ in events]
    assert kinds.count("test-labels") == 1 and kinds[-1] == "test-labels"
    assert kinds.index("test-labels") > max(i for i, k in enumerate(kinds) if k == "epoch")
    assert events[-1][1] == len(test_rows) == len(evaluated.keys)
    assert evaluated.results["splits"]["test"] == len(test_rows)
    assert 0.0 <= evaluated.results["top1"] <= evaluated.results["top5"] <= 100.0


def test_linear_command_outputs_and_transfer_record(synth_dataset, encoder_file, tmp_path):
    out = tmp_path / "linear"
    metrics = invoke("linear", "--data", str(synth_dataset), "--checkpoint", str(encoder_file), "--out", str(out),
                     "--epochs", "3", "--batch-size", "32", "--lr", "1.0")
    assert metrics["data"]["benchmark"] == "xview"  # from the checkpoint
    assert metrics["knobs"]["epochs"] == 3 and metrics["knobs"]["milestones"] == [2]
    assert metrics["transfer"] and metrics["source_fingerprint"] == "f" * 64
    assert metrics["target_fingerprint"] == open_dataset(synth_dataset).info["fingerprint"]
    assert len(metrics["curve"]) == 3 and 1 <= metrics["selected_epoch"] <= 3
    assert len(metrics["confusion_matrix"]) == 60 and len(metrics["per_class_accuracy"]) == 60
    logits, keys = np.load(out / "logits.npy"), (out / "keys.txt").read_text().split()
    assert logits.shape == (metrics["num_samples"], 60) and len(keys) == logits.shape[0]
    labels = np.load(out / "labels.npy")
    assert metrics["top1"] == pytest.approx(100 * np.mean(logits.argmax(1) == labels), abs=1e-4)


def test_random_checkpoint_is_seeded(synth_dataset):
    a, _ = load_encoder("random", CPU, seed=5, model_cfg=TINY)
    b, _ = load_encoder("random", CPU, seed=5, model_cfg=TINY)
    c, _ = load_encoder("random", CPU, seed=6, model_cfg=TINY)
    pa, pb, pc = (torch.cat([p.flatten() for p in e.parameters()]) for e in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_knn_command(synth_dataset, tiny, tmp_path):
    metrics = invoke("knn", "--data", str(synth_dataset), "--benchmark", "xview", "--checkpoint", "random",
                     "--model-config", tiny, "--out", str(tmp_path / "knn"), "--k", "1,5", "--primary-k", "5")
    assert set(metrics["by_k"]) == {"1", "5"} and metrics["top1"] == metrics["by_k"]["5"]["top1"]
    assert metrics["headline"]["kNN top-1"] == metrics["top1"]
    dataset = open_dataset(synth_dataset)
    assert metrics["bank_size"] == dataset.info["counts"]["xview"]["train"]
    assert metrics["feature_dim"] == TINY["out_channels"] and not metrics["transfer"]


def test_knn_and_linear_pool_over_a_region_when_asked(synth_dataset, tiny, tmp_path):
    common = ("--data", str(synth_dataset), "--benchmark", "xview", "--checkpoint", "random", "--model-config", tiny)
    scores = {}
    for region in ("whole", "actionlet", "non_actionlet"):
        knn = invoke("knn", *common, "--out", str(tmp_path / f"knn-{region}"), "--k", "5", "--primary-k", "5",
                     "--region", region)
        assert knn["knobs"]["region"] == region and ("region" in knn["title"]) == (region != "whole")
        scores[region] = np.load(tmp_path / f"knn-{region}" / "logits.npy")
    assert not np.allclose(scores["actionlet"], scores["whole"])
    assert not np.allclose(scores["actionlet"], scores["non_actionlet"])
    linear = invoke("linear", *common, "--out", str(tmp_path / "linear"), "--epochs", "2", "--region", "actionlet")
    assert linear["knobs"]["region"] == "actionlet" and linear["feature_dim"] == TINY["out_channels"]


def test_finetune_command_semi_supervised(synth_dataset, tiny, tmp_path):
    metrics = invoke("finetune", "--data", str(synth_dataset), "--benchmark", "xview", "--checkpoint", "random",
                     "--model-config", tiny, "--out", str(tmp_path / "ft"), "--epochs", "2", "--batch-size", "16",
                     "--label-fraction", "0.5")
    splits = metrics["splits"]
    assert splits["labelled"] < splits["train"] and metrics["label_fraction"] == 0.5
    assert len(metrics["curve"]) == 2 and "semi 50% top-1" in metrics["headline"]
    assert (tmp_path / "ft" / "logits.npy").is_file()


def test_actionlet_command_pictures_and_score(synth_dataset, tiny, tmp_path):
    ground_truth = Path(synth_dataset).parent / "raw" / "ground_truth.json"
    out = tmp_path / "act"
    metrics = invoke("actionlet", "--data", str(synth_dataset), "--benchmark", "xview", "--checkpoint", "random",
                     "--model-config", tiny, "--out", str(out), "--ground-truth", str(ground_truth), "--pictures", "2")
    score = metrics["score"]
    assert 0.0 <= score["share"] <= 1.0 and 0.0 < score["chance"] < 1.0
    assert score["lift"] == pytest.approx(score["share"] / score["chance"])
    assert score["scored"] == metrics["samples"] == open_dataset(synth_dataset).info["counts"]["xview"]["test"]
    assert len(metrics["pictures"]) == 3
    for name in metrics["pictures"]:
        image = imread(out / name)
        assert image.shape[0] > 100 and image.std() > 0
    import h5py

    with h5py.File(out / "actionlets.h5") as f:
        assert f["masks"].shape == (metrics["samples"], 50, 25, 2)
        assert f["joint_masks"].shape == (metrics["samples"], 50, 25)
