"""Two-process DDP pretraining on CPU (gloo): every rank ends with the same weights and queue."""
from __future__ import annotations

import json
import os
import socket

import torch
import torch.multiprocessing as mp
from test_pretrain_run import SMALL_MODEL

from actclr.engine.checkpoint import load_checkpoint
from actclr.engine.config import build_config

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, cfg: dict, data: str, run_dir: str, out: str) -> None:
    """One torchrun-like process: the launcher's environment, then the normal entry point."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from actclr.engine.trainer import run_pretraining

    trainer = run_pretraining(cfg, data=data, run_dir=run_dir)
    state = trainer.method.state_dict()
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        steps = [json.loads(line)["epoch"] for line in f]
    torch.save({"state": state, "grad_params": [n for n, p in trainer.method.named_parameters()
                                                if p.requires_grad], "epochs": steps},
               os.path.join(out, f"rank{rank}.pt"))


def test_two_gloo_ranks_train_to_identical_weights(synth_dataset, tmp_path):
    # x-view training split: 84 samples in 2 shards of 42, exact mode, batch 16 -> 2 steps per rank
    cfg = build_config("actclr_synth-xsub_joint_1xcpu_demo", {"data.benchmark": "xview", "train.epochs": 1,
                                                              "data.batch_size": 16}, SMALL_MODEL)
    mp.spawn(_rank_main, args=(_free_port(), cfg, str(synth_dataset), str(tmp_path / "run"), str(tmp_path)),
             nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    first, second = ranks[0]["state"], ranks[1]["state"]
    assert all(name.startswith("encoder_q.") for name in ranks[0]["grad_params"])
    shared = [k for k in first if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert any(k.startswith("queue.") for k in shared) and any(k.startswith("encoder_k.") for k in shared)
    different = [k for k in shared if not torch.equal(first[k], second[k])]
    assert not different, f"ranks diverged: {different[:5]}"
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["world_size"] == WORLD and len(last["rng"]) == WORLD
    assert int(last["method"]["queue.ptr"]) == 2 * 16 * WORLD  # 2 steps of gathered keys from 2 ranks
    env = json.loads((tmp_path / "run" / "env.json").read_text())
    assert env["effective_batch_size"] == 32 and env["rank_seeds"] == [0, 1]
    for key in shared:  # rank 0 saved its own state
        assert torch.equal(last["method"][key], first[key])


def test_ddp_broadcasts_buffers_only_when_asked(tmp_path):
    import torch.distributed as tdist
    from torch import nn

    from actclr.engine.dist import DistEnv
    from actclr.engine.trainer import _ddp

    tdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1)
    try:
        env = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
        for flag in (False, True):
            model = _ddp(nn.BatchNorm1d(3), env, broadcast_buffers=flag)
            assert getattr(model, "forward_sync_buffers", getattr(model, "broadcast_buffers", None)) is flag
    finally:
        tdist.destroy_process_group()
