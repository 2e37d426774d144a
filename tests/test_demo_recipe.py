"""The CPU demo's recipe fits its data: what made its MoCo v2 warm-up worse than no training."""
from __future__ import annotations

from actclr import registry
from actclr.engine.config import build_config
from actclr.pipelines.ntu import parse_ntu
from actclr.pipelines.sources import find_sources
from actclr.synth import generate

DEMO = "mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo"


def test_demo_queues_are_shorter_than_its_training_set_and_keys_use_split_bn(tmp_path):
    # the data of scripts/demo.sh: 8 classes x 16, seed 0, nuisance 1 (xsub training side)
    generate(tmp_path, "ntu60", classes=8, per_class=16, seed=0, nuisance=1.0)
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
    assert cfg["method"]["topk"] <= cfg["method"]["queue_size"]
