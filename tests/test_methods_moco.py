"""MoCo machinery: momentum update, queue wrap-around, shuffle-BN helpers (one process and DDP)."""
from __future__ import annotations

import math
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from methods_helpers import batch, make
from torch import nn

from actclr.methods.moco import (
    BANKS,
    MomentumContrast,
    Queue,
    batch_shuffle_ddp,
    batch_unshuffle_ddp,
    concat_all_gather,
    mean_pairwise_cosine,
    momentum_update,
    shuffled_forward,
)
from actclr.methods.options import MomentumOptions
from actclr.models.modes import eval_mode


def test_momentum_update_is_ema_of_parameters_only():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    online[1].running_mean.fill_(5.0)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    momentum_update(online, target, m=0.9)
    for name, p in target.named_parameters():
        expected = 0.9 * before[name] + 0.1 * dict(online.named_parameters())[name]
        torch.testing.assert_close(p, expected)
    torch.testing.assert_close(target[1].running_mean, before["1.running_mean"])
    assert all(p.grad is None for p in target.parameters())


def test_momentum_update_rejects_bad_momentum():
    with pytest.raises(ValueError, match="momentum"):
        momentum_update(nn.Linear(1, 1), nn.Linear(1, 1), m=1.5)


def test_queue_initialised_with_unit_vectors():
    queue = Queue(dim=8, size=10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(queue.embeddings.norm(dim=1), torch.ones(10))
    assert int(queue.ptr) == 0
    assert set(queue.state_dict()) == {"embeddings", "ptr"}


def _keys(start: int, n: int) -> torch.Tensor:
    """Rows whose first coordinate identifies the key: [start, ...], [start + 1, ...]."""
    return torch.stack([torch.full((2,), float(i)) for i in range(start, start + n)])


def test_queue_wraps_for_sizes_that_do_not_divide_it():
    queue = Queue(dim=2, size=5)
    queue.enqueue(_keys(0, 3))
    assert int(queue.ptr) == 3
    queue.enqueue(_keys(3, 4))  # writes slots 3, 4, 0, 1
    assert int(queue.ptr) == 2
    assert queue.embeddings[:, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]


def test_queue_keeps_only_the_newest_keys_when_more_arrive_than_it_holds():
    queue = Queue(dim=2, size=5)
    queue.enqueue(_keys(0, 2))
    queue.enqueue(_keys(10, 7))  # 7 > 5: keys 12..16 survive, oldest (12) at the new ptr
    assert int(queue.ptr) == (2 + 7) % 5
    ordered = torch.roll(queue.embeddings[:, 0], -int(queue.ptr))
    assert ordered.tolist() == [12.0, 13.0, 14.0, 15.0, 16.0]


def test_queue_rejects_wrong_dim_and_reset_rewinds():
    queue = Queue(dim=2, size=4)
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        queue.enqueue(torch.zeros(3, 5))
    queue.enqueue(_keys(0, 3))
    queue.reset()
    assert int(queue.ptr) == 0 and queue.embeddings[:, 0].abs().max() <= 1.0


def test_single_process_collectives_are_identities():
    x = torch.randn(6, 3)
    assert concat_all_gather(x) is x
    shuffled, unshuffle = batch_shuffle_ddp(x)
    torch.testing.assert_close(batch_unshuffle_ddp(shuffled, unshuffle), x)


def test_shuffled_forward_with_bn_splits_normalises_groups_and_restores_order():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(8.0).reshape(8, 1)
    sizes = []

    def centre(chunk):
        sizes.append(chunk.shape[0])
        return chunk - chunk.mean(0, keepdim=True)

    assert torch.equal(shuffled_forward(lambda t: t * 2, x, g, bn_splits=4), x * 2)
    out = shuffled_forward(centre, x, g, bn_splits=2)
    assert sizes == [4, 4]
    assert not torch.allclose(out, x - x.mean())  # statistics are per group
    assert torch.allclose(out.sum(), torch.tensor(0.0))
    sizes.clear()
    torch.testing.assert_close(shuffled_forward(centre, x, g, bn_splits=1), x - x.mean())
    with pytest.raises(ValueError, match="bn_splits"):
        shuffled_forward(centre, x[:1], g, bn_splits=2)


def _contrast(bank: str) -> MomentumContrast:
    """The shared MoCo part around a 2-d stand-in encoder, queue of 3."""
    encoder = nn.Linear(2, 2)
    encoder.embed_dim = 2
    return MomentumContrast(encoder, None, MomentumOptions(queue_size=3, momentum=0.9, bank=bank))


@pytest.mark.parametrize("bank", BANKS)
def test_comparison_bank_holds_the_current_keys_first_then_a_queue_snapshot(bank):
    method = _contrast(bank)
    keys = torch.arange(4.0).reshape(2, 2)
    embeddings, own = method.comparison_bank(keys)
    parts = ([keys] if "batch" in bank else []) + ([method.queue.embeddings] if "queue" in bank else [])
    torch.testing.assert_close(embeddings, torch.cat(parts))
    assert (own is None) == (bank == "queue")
    if own is not None:
        assert own.tolist() == [0, 1]
    if "queue" in bank:  # a snapshot: the step's enqueue must not change the loss's bank
        method.queue.enqueue(keys + 100)
        assert embeddings.max() < 100


def test_unknown_bank_is_refused():
    with pytest.raises(ValueError, match="bank='memory'.*queue, batch, queue\\+batch"):
        _contrast("memory")


def test_mean_pairwise_cosine_is_one_when_collapsed_and_skips_self_pairs():
    same = torch.nn.functional.normalize(torch.ones(5, 3), dim=1)
    assert mean_pairwise_cosine(same).item() == pytest.approx(1.0)
    assert mean_pairwise_cosine(torch.eye(4)).item() == pytest.approx(0.0)
    pair = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    assert mean_pairwise_cosine(pair).item() == pytest.approx(0.6)


def test_eval_mode_restores_mixed_flags():
    model = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2))
    model[1].eval()
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and model[0].training and not model[1].training


def _ddp_worker(rank: int, world: int, init_file: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        x = torch.arange(4.0).reshape(2, 2) + 10 * rank  # rows identify (rank, sample)
        gathered = concat_all_gather(x)
        g = torch.Generator().manual_seed(rank)  # ranks disagree: rank 0's permutation must win
        shuffled, unshuffle = batch_shuffle_ddp(x, g)
        restored = batch_unshuffle_ddp(shuffled * 3, unshuffle)
        queue = Queue(dim=2, size=3)
        queue.enqueue(x)  # 4 gathered keys > 3 slots
        bank, own = _contrast("batch").comparison_bank(x)
        results.put((rank, [t.tolist() for t in (gathered, shuffled, restored, queue.embeddings)],
                     int(queue.ptr), bank[own].tolist()))
    finally:
        dist.destroy_process_group()


def test_ddp_gather_shuffle_and_enqueue_two_ranks():
    results = mp.get_context("fork").SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_ddp_worker, args=(2, os.path.join(tmp, "init"), results), nprocs=2,
                           start_method="fork")
    received = {}
    for _ in range(2):
        rank, tensors, ptr, own_keys = results.get()
        received[rank] = (*map(torch.tensor, tensors), ptr, torch.tensor(own_keys))
    r0, r1 = received[0], received[1]
    everything = torch.cat([torch.arange(4.0).reshape(2, 2), torch.arange(4.0).reshape(2, 2) + 10])
    torch.testing.assert_close(r0[0], everything)
    torch.testing.assert_close(r1[0], everything)
    # the two slices of the shuffle partition the global batch
    union = torch.cat([r0[1], r1[1]])
    assert sorted(union[:, 0].tolist()) == sorted(everything[:, 0].tolist())
    torch.testing.assert_close(r0[2], everything[:2] * 3)
    torch.testing.assert_close(r1[2], everything[2:] * 3)
    torch.testing.assert_close(r0[3], r1[3])  # identical queues on every rank
    assert r0[4] == r1[4] == 4 % 3
    assert sorted(r0[3][:, 0].tolist()) == [2.0, 10.0, 12.0]  # newest three of four
    # each rank finds its own keys in the gathered batch bank
    torch.testing.assert_close(r0[5], everything[:2])
    torch.testing.assert_close(r1[5], everything[2:])


@pytest.mark.parametrize("name", ["mocov2", "actclr"])
def test_method_steps_keep_the_views_in_float32_under_autocast(name):
    """The AMP path (``train.amp``, CUDA) relies on this, checked under CPU autocast: the views
    stay float32 and equal to the views without autocast, and a step has finite gradients."""
    method = make(name).train()
    x = batch(8, frames=20)
    plain = method.view("normal", x, torch.Generator().manual_seed(0), 1)
    for dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cpu", dtype=dtype):
            view = method.view("normal", x, torch.Generator().manual_seed(0), 1)
            loss, _ = method.training_step(x, 1, torch.Generator().manual_seed(1))
        assert view.dtype == torch.float32 and torch.equal(view, plain)
        method.zero_grad()
        loss.backward()
        assert math.isfinite(loss.item())
        assert all(torch.isfinite(p.grad).all() for p in method.encoder_q.parameters())
