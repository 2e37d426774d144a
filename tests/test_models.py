"""ST-GCN encoder: graph partition, shapes, parameters, equivalence with the classic formulation."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from actclr.models import DEFAULTS, Encoder, Projector, build_encoder, from_official
from actclr.models.graph import adjacency, hop_distance, spatial_partition
from actclr.models.stgcn import STGCN, GraphConv, _Aggregate, dense_is_faster, dropout_mask, official_key
from actclr.skeleton import CENTER, EDGES

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load_bench():
    """``bench/encoder.py``: its straightforward ST-GCN is the reference the tests compare to."""
    path = Path(__file__).resolve().parents[1] / "bench" / "encoder.py"
    spec = importlib.util.spec_from_file_location("bench_encoder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def tiny_pair(dropout: float = 0.0) -> tuple[nn.Module, STGCN]:
    """A narrow reference ST-GCN and an actclr STGCN with the same (non-trivial) weights."""
    return bench.paired_backbones(hidden=4, out_channels=16, dropout=dropout)


#: A narrow encoder for fast tests.
TINY = {"hidden_channels": 4, "out_channels": 16, "projector": {"hidden_dim": 8, "out_dim": 4}}


def one_based(pairs) -> set:
    return {(j + 1, i + 1) for j, i in pairs}


# --- graph ----------------------------------------------------------------------------------

def test_adjacency_is_column_normalised_a_plus_identity():
    raw = adjacency(normalize=False)
    assert torch.equal(raw, raw.T) and torch.equal(raw.diagonal(), torch.ones(25))
    assert int(raw.sum()) == 25 + 2 * len(EDGES)
    norm = adjacency()
    assert torch.allclose(norm.sum(dim=0), torch.ones(25))
    assert torch.allclose(norm, raw / raw.sum(dim=0))


def test_hop_distance_limits():
    assert hop_distance(1)[CENTER, 0] == float("inf")          # joint 1 is two hops from joint 21
    assert hop_distance(None)[CENTER, 0] == 2
    assert hop_distance(None).isfinite().all()                  # the skeleton is connected


def test_official_partition_reproduces_the_max_hop_quirk():
    parts = spatial_partition()
    norm = adjacency()
    assert parts.shape == (3, 25, 25)
    assert torch.allclose(parts.sum(dim=0), norm)
    assert torch.equal(parts[0], torch.diag(norm.diagonal()))
    assert [int((p > 0).sum()) for p in parts] == [25, 40, 8]
    assert one_based((parts[2] > 0).nonzero().tolist()) == {
        (2, 1), (3, 4), (5, 6), (9, 10), (21, 2), (21, 3), (21, 5), (21, 9)}
    off_diagonal = one_based((parts[1] > 0).nonzero().tolist())
    assert (1, 2) in off_diagonal and (23, 22) in off_diagonal and (22, 23) in off_diagonal
    nonzero = parts > 0
    assert int(nonzero.sum(dim=0).max()) == 1                   # every entry is in one partition


def test_true_partition_splits_by_real_distance():
    parts = spatial_partition("true")
    assert torch.allclose(parts.sum(dim=0), adjacency())
    assert [int((p > 0).sum()) for p in parts] == [25, 24, 24]
    centripetal, centrifugal = (one_based((p > 0).nonzero().tolist()) for p in parts[1:])
    assert (1, 2) in centripetal and (2, 1) in centrifugal                 # joint 2 is nearer joint 21
    assert (22, 23) in centripetal and (23, 22) in centrifugal             # hand tip hangs off the thumb
    assert one_based((spatial_partition()[2] > 0).nonzero().tolist()) <= centrifugal
    with pytest.raises(ValueError, match="unknown partition"):
        spatial_partition("spectral")


# --- shapes, parameters, API ---------------------------------------------------------------

@pytest.mark.parametrize(("frames", "reduced"), [(50, 13), (64, 16), (9, 3)])
def test_feature_map_shape(frames, reduced):
    torch.manual_seed(0)
    encoder = build_encoder(TINY)
    x = torch.randn(3, 3, frames, 25, 2)
    fmap = encoder.feature_map(x)
    assert fmap.shape == (3, 2, 16, reduced, 25)
    assert encoder(x).shape == (3, 16) and encoder.embed(x).shape == (3, 4)
    assert (encoder.feature_dim, encoder.embed_dim) == (16, 4)


def test_parameter_count_matches_the_official_encoder():
    encoder = build_encoder()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    backbone = encoder.backbone
    importance = sum(block.edge_importance.numel() for block in backbone.blocks)
    assert count(backbone.data_bn) == 150
    assert importance == 18_750
    assert count(backbone) - importance - 150 == 802_480
    assert count(encoder.projector) == 98_688
    assert count(encoder) == 920_068
    assert (encoder.feature_dim, encoder.embed_dim) == (256, 128)


def test_official_initialisation():
    torch.manual_seed(0)
    backbone = build_encoder().backbone
    conv = backbone.blocks[9].tconv
    assert abs(conv.weight.std().item() - 0.02) < 0.001 and not conv.bias.any()
    assert abs(backbone.blocks[9].bn2.weight.mean().item() - 1.0) < 0.01
    assert not backbone.data_bn.bias.any()
    assert all(torch.equal(b.edge_importance, torch.ones(3, 25, 25)) for b in backbone.blocks)


def test_build_encoder_options():
    with pytest.raises(ValueError, match="unknown encoder option"):
        build_encoder({"width": 3})
    encoder = build_encoder({"projector": None, "hidden_channels": 4, "out_channels": 8})
    x = torch.randn(2, 3, 10, 25, 2)
    encoder.eval()
    assert encoder.embed_dim == 8 and torch.equal(encoder.embed(x), encoder(x))
    frozen = build_encoder({"edge_importance": False, "hidden_channels": 4, "out_channels": 8})
    assert not any(b.edge_importance.requires_grad for b in frozen.backbone.blocks)
    assert set(DEFAULTS) >= {"partition", "dropout", "projector"}


def test_bad_input_is_reported():
    backbone = STGCN(hidden_channels=4, out_channels=8)
    with pytest.raises(ValueError, match=r"expects \(N, 3, T, 25, M\), got \(2, 3, 10, 20, 2\)"):
        backbone(torch.randn(2, 3, 10, 20, 2))
    with pytest.raises(ValueError, match="25 joints"):
        STGCN(num_joints=18)


def test_pool_of_constant_map():
    fmap = torch.full((2, 2, 5, 13, 25), 3.0)
    fmap[1, 1] = 1.0                                             # bodies are averaged after GAP
    assert torch.equal(Encoder.pool(fmap), torch.tensor([[3.0] * 5, [2.0] * 5]))


# --- equivalence with the classic formulation ----------------------------------------------

def test_eval_matches_reference():
    reference, fast = tiny_pair(dropout=0.5)
    x = torch.randn(3, 3, 20, 25, 2)
    with torch.no_grad():
        expected, actual = reference.eval()(x), fast.eval()(x)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_train_mode_outputs_and_gradients_match_reference():
    reference, fast = (model.double() for model in tiny_pair(dropout=0.0))  # float64: tight tolerance
    x = torch.randn(3, 3, 20, 25, 2, dtype=torch.float64)
    target = torch.randn(3, 2, 16, 5, 25, dtype=torch.float64)
    for model in (reference, fast):
        model.train()
        ((model(x) - target) ** 2).mean().backward()
    torch.testing.assert_close(fast(x), reference(x), rtol=1e-9, atol=1e-9)
    fast_params = dict(fast.named_parameters())
    for name, param in reference.named_parameters():
        torch.testing.assert_close(fast_params[official_key(name)].grad, param.grad, rtol=1e-7, atol=1e-10,
                                   msg=lambda m, name=name: f"{name}: {m}")
    for name, buffer in reference.state_dict().items():                 # BN running statistics
        if name != "A":
            torch.testing.assert_close(fast.state_dict()[official_key(name)], buffer, rtol=1e-9, atol=1e-9)


def test_from_official_maps_a_checkpoint():
    reference, fast = tiny_pair()
    head = Projector(16, 8, 4)
    checkpoint = {f"encoder_q.{k}": v for k, v in reference.state_dict().items()}
    checkpoint["encoder_q.fc.0.weight"] = head[0].weight.detach()[:, :, None, None]  # HEAD: 1x1-conv heads
    checkpoint["encoder_q.fc.0.bias"] = head[0].bias.detach()
    checkpoint["encoder_q.fc.2.weight"] = head[2].weight.detach()
    checkpoint["encoder_q.fc.2.bias"] = head[2].bias.detach()
    checkpoint["encoder_k.fc.2.bias"] = head[2].bias.detach()
    encoder = Encoder(STGCN(hidden_channels=4, out_channels=16), Projector(16, 8, 4))
    encoder.load_state_dict(from_official(checkpoint))                   # strict: every key maps
    torch.testing.assert_close(encoder.projector[0].weight, head[0].weight)
    with pytest.raises(KeyError, match="queue"):
        from_official({"encoder_q.queue": torch.zeros(1)})


@pytest.mark.parametrize("channels", [3, 20])  # both ways of computing the graph gradient
def test_graph_aggregation_gradients(channels):
    torch.manual_seed(0)
    rows = torch.randn(4, 5, channels, dtype=torch.float64, requires_grad=True)
    graph = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(_Aggregate.apply(rows, graph), torch.einsum("uv,bvc->buc", graph, rows))
    assert torch.autograd.gradcheck(_Aggregate.apply, (rows, graph))
    assert torch.autograd.gradgradcheck(_Aggregate.apply, (rows, graph))


@pytest.mark.parametrize(("c_in", "c_out"), [(3, 8), (8, 8), (8, 16), (16, 16), (3, 32), (32, 64)])
def test_dense_aggregation_equals_the_partition_products(c_in, c_out):
    """Both ways of computing a graph conv: same output and gradients (input, graph with edge
    importance, weight, bias) in float32, within a margin far below the values compared."""
    torch.manual_seed(0)
    dense, partitions = GraphConv(c_in, c_out, 3, "dense"), GraphConv(c_in, c_out, 3, "partitions")
    partitions.load_state_dict(dense.state_dict())
    assert dense.dense and not partitions.dense
    x = torch.randn(4, 12, 25, c_in).permute(0, 3, 1, 2)                # channels-last, as in the model
    importance = 1 + 0.3 * torch.randn(3, 25, 25)
    upstream = torch.randn(4, c_out, 12, 25)
    results = []
    for module in (dense, partitions):
        inputs = [x.clone().requires_grad_(), importance.clone().requires_grad_()]
        out = module(inputs[0], spatial_partition() * inputs[1])
        out.backward(upstream)
        results.append([out, *(t.grad for t in inputs), module.weight.grad, module.bias.grad])
    for name, actual, expected in zip(("output", "input", "importance", "weight", "bias"), *results):
        scale = expected.abs().max()
        assert scale > 0.1, name
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=2e-5 * scale.item(),
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_auto_aggregation_is_chosen_per_block():
    backbone = STGCN(hidden_channels=8, out_channels=64)
    assert [b.gcn.dense for b in backbone.blocks] == [True] * 5 + [False] * 5  # 3->8, 8->8 x3, 8->16
    assert [b.gcn.dense for b in STGCN(hidden_channels=4, aggregation="dense").blocks] == [True] * 10
    assert not any(b.gcn.dense for b in STGCN(hidden_channels=4, aggregation="partitions").blocks)
    assert dense_is_faster(8, 16) and not dense_is_faster(16, 16)
    with pytest.raises(ValueError, match="unknown aggregation 'sparse'"):
        build_encoder({**TINY, "aggregation": "sparse"})


# --- training behaviour --------------------------------------------------------------------

def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    encoder = build_encoder(TINY)
    encoder.train().embed(torch.randn(4, 3, 20, 25, 2)).square().sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_seeded_training_forward_is_deterministic_and_eval_has_no_dropout():
    torch.manual_seed(0)
    backbone = STGCN(hidden_channels=4, out_channels=16, dropout=0.5).train()
    x = torch.randn(2, 3, 20, 25, 2)
    torch.manual_seed(1)
    first = backbone(x)
    torch.manual_seed(1)
    assert torch.equal(backbone(x), first)
    assert not torch.equal(backbone(x), first)                           # fresh dropout masks
    backbone.eval()
    with torch.no_grad():
        assert torch.equal(backbone(x), backbone(x))


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_dropout_mask(p):
    x = torch.empty(64, 16, 30, 25).to(memory_format=torch.channels_last)
    torch.manual_seed(0)
    mask = dropout_mask(x, p)
    assert mask.shape == x.shape and mask.stride() == x.stride() and mask.dtype == x.dtype
    torch.testing.assert_close(mask.unique(), torch.tensor([0.0, 1 / (1 - p)]))
    keep = (mask > 0).float()
    assert abs(keep.mean().item() - (1 - p)) < 0.005
    assert abs(mask.mean().item() - 1) < 0.01                           # inverted dropout keeps the mean
    bytes_of_bits = keep.permute(0, 2, 3, 1).reshape(-1, 8).mean(dim=0)  # every bit position is fair
    assert (bytes_of_bits - (1 - p)).abs().max() < 0.01


def test_sync_batch_norm_conversion():
    _, fast = tiny_pair()
    x = torch.randn(2, 3, 12, 25, 2)
    with torch.no_grad():
        expected = fast.eval()(x)
        synced = nn.SyncBatchNorm.convert_sync_batchnorm(fast)
        assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
        torch.testing.assert_close(synced.eval()(x), expected)
        assert synced.train()(x).shape == expected.shape                # no process group: local stats


def test_cpu_autocast_forward_and_backward():
    torch.manual_seed(0)
    encoder = build_encoder(TINY)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = encoder.train().embed(torch.randn(2, 3, 12, 25, 2))
    assert z.dtype == torch.bfloat16
    z.float().square().mean().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in encoder.parameters())
