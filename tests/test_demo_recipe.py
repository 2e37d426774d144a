"""The CPU demo's recipe fits its data: the settings without which its pretraining collapsed."""
from __future__ import annotations

import re
from pathlib import Path

from actclr import registry
from actclr.engine.config import build_config
from actclr.pipelines.ntu import parse_ntu
from actclr.pipelines.sources import find_sources
from actclr.synth import generate

DEMO = "mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "demo.sh"


def demo_default(name: str) -> str:
    """The default of ``NAME=${DEMO_NAME:-default}`` in scripts/demo.sh."""
    return re.search(rf"^{name}=\$\{{DEMO_{name}:-([^}}]*)\}}", SCRIPT.read_text(), re.M).group(1)


def test_demo_queues_are_shorter_than_its_training_set_and_keys_use_split_bn(tmp_path):
    actions = [int(a) - 1 for a in demo_default("ACTIONS").split(",")]
    generate(tmp_path, "ntu60", classes=actions, per_class=int(demo_default("PER_CLASS")), seed=0,
             nuisance=float(demo_default("NUISANCE")), tilt=float(demo_default("TILT")))
    bench = registry.get_dataset("ntu60").benchmarks["xsub"]
    train = 0
    for f in find_sources("ntu60", [tmp_path]).files:
        raw = parse_ntu(f.read_bytes(), f.location)
        train += not raw.is_empty and bench.split_of(raw.meta[bench.field]) == "train"
    cfg = build_config(DEMO, {})
    for method in (cfg["method"], cfg["warmup"]["method"]):
        # a longer queue holds the query's own older keys as negatives / teacher targets
        assert method["queue_size"] < train, (method["name"], method["queue_size"], train)
        # one process has no shuffle-BN unless the key batch is split (else InfoNCE cheats via BN)
        assert method["bn_splits"] >= 2 and cfg["data"]["batch_size"] % method["bn_splits"] == 0
    assert cfg["method"]["topk"] <= cfg["method"]["queue_size"] + cfg["data"]["batch_size"]


def test_demo_warmup_compares_with_fresh_keys_and_actclr_keeps_a_slow_teacher():
    cfg = build_config(DEMO, {})
    # the queue's stale keys let MoCo v2 tell the positive apart without per-sample information
    # (collapse measured at this step size); the current batch's keys are as fresh as the positive
    assert "batch" in cfg["warmup"]["method"]["bank"]
    # ActCLR's loss has no repulsive term: a fast teacher collapses it within an epoch
    assert cfg["method"]["momentum"] >= 0.999 and "batch" in cfg["method"]["bank"]


def test_demo_baseline_is_the_warmup_method_alone_for_the_same_epochs():
    demo, baseline = build_config(DEMO, {}), build_config("mocov2_synth-xsub_joint_1xcpu_demo", {})
    script = SCRIPT.read_text()
    warmup_epochs = int(re.search(r"^WARMUP_EPOCHS=(\d+)", script, re.M).group(1))
    assert warmup_epochs == demo["warmup"]["epochs"]  # DEMO_EPOCHS + DEMO_BASELINE add it
    assert baseline["warmup"]["epochs"] == 0
    assert baseline["train"]["epochs"] == demo["warmup"]["epochs"] + demo["train"]["epochs"]
    assert baseline["method"] == demo["warmup"]["method"]
    warm = {**demo["optim"], **demo["warmup"]["optim"]}, {**demo["schedule"], **demo["warmup"]["schedule"]}
    assert (baseline["optim"], baseline["schedule"]) == warm
    for section in ("data", "model", "augment", "monitor"):
        assert baseline[section] == demo[section], section
