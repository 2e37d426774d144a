"""ST-GCN backbone (Yan et al. 2018) as configured by AimCLR/ActCLR, computed in a CPU-friendly way.

The function and the parameters are those of the official ``net/st_gcn.py`` (spec section 3);
only the evaluation order and memory layout differ:

* Activations stay channels-last (``(B, T, V, C)`` in memory; logically ``(B, C, T, V)``), the
  layout oneDNN convolutions and batch norm run fastest in, so no permute copies happen between
  the graph, convolution and normalisation steps.
* The graph convolution is computed one of two ways (:data:`AGGREGATIONS`, chosen per block).
  ``partitions`` aggregates over the K partition matrices *before* the 1x1 convolution (both are
  linear, so ``sum_k (W_k x + b_k) A_k = sum_k W_k (x A_k) + b A``): one batched matmul with the
  stacked ``(V*K, V)`` graph operator, then one matmul over ``(K*C_in)``. This needs ``C_in``
  rather than ``C_out`` channels of graph work and no ``(N, K, C, T, V)`` intermediate. ``dense``
  folds graph and weights into one ``(V*C_in, V*C_out)`` operator and applies it as a single GEMM
  to the channels-last rows ``(B*T, V*C_in)``: ``V * C_out / (K * (V + C_out))`` times the
  arithmetic (2x at 8 channels), but one large product instead of ``B*T`` tiny ones and no
  copies, which wins for narrow blocks (see :func:`dense_is_faster`).
* Dropout draws one random bit per element (32 per RNG call) when ``p = 0.5`` and is applied in
  place, as are the residual sum and the ReLUs.
* Projecting shortcuts (1x1 conv, temporal stride) are matmuls (:class:`PointwiseConv`).

State-dict layout (per block ``blocks.{i}``): ``gcn.weight (K*out, in, 1, 1)``, ``gcn.bias (K*out)``
(the official 1x1 conv, output channel ``k * out + c``), ``edge_importance (K, V, V)``, ``bn1``,
``tconv.weight (out, out, 9, 1)``, ``bn2``, and ``residual.0`` (1x1 conv) / ``residual.1`` (BN)
in blocks with a projecting shortcut; plus ``data_bn`` (75 channels, index ``v * C + c``).
:func:`official_key` maps official checkpoint names onto it.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from actclr.models.graph import spatial_partition
from actclr.models.init import init_weights
from actclr.skeleton import NUM_JOINTS

#: Blocks 1-10: (output width as a multiple of ``hidden_channels``, or None for ``out_channels``;
#: temporal stride). Spec section 3: 16,16,16,16,32,32,32,64,64,256 with strides at blocks 5 and 8.
BLOCKS = ((1, 1), (1, 1), (1, 1), (1, 1), (2, 2), (2, 1), (2, 1), (4, 2), (4, 1), (None, 1))
TEMPORAL_KERNEL = 9


#: Signed integer type with the width of each float type, for building masks bit by bit.
_SAME_WIDTH_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}
#: Bit pattern of 2.0 (the ``p = 0.5`` dropout scale) as that integer, per float type: a Python
#: constant, so that ``torch.compile`` traces the mask without a graph break (no ``.item()``).
_TWO_BITS = {dtype: int(torch.tensor(2.0, dtype=dtype).view(_SAME_WIDTH_INT[dtype.itemsize]).item())
             for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def dropout_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted-dropout multiplier for ``x``: ``1 / (1 - p)`` with probability ``1 - p``, else 0.

    Same shape, dtype, device and strides as ``x`` (which must be dense, e.g. a fresh activation).
    Drawn from the default generator of ``x.device``. For ``p = 0.5`` every bit of a full-range
    random integer decides one element (exactly Bernoulli(1/2), 32 elements per draw for float32),
    and the mask is built with integer ops on the scale's bit pattern (no bool -> float cast);
    otherwise ``uniform >= p``.
    """
    n, scale = x.numel(), 1.0 / (1.0 - p)
    if p == 0.5:
        itype = _SAME_WIDTH_INT[x.element_size()]
        width = 8 * x.element_size()
        count, info = -(-n // width), torch.iinfo(itype)
        if torch.compiler.is_compiling():  # torch.compile traces no in-place random_
            words = torch.randint(info.min, info.max, (count,), dtype=itype, device=x.device)
        else:
            words = torch.empty(count, dtype=itype, device=x.device)
            words.random_(info.min, None)                                    # all bits random
        shifts = torch.arange(width, dtype=itype, device=x.device)
        bits = words.unsqueeze(-1).bitwise_right_shift(shifts).bitwise_and_(1).view(-1)[:n]
        mask = bits.mul_(_TWO_BITS[x.dtype]).view(x.dtype)
    else:
        mask = (torch.rand(n, device=x.device) >= p).to(x.dtype).mul_(scale)
    return mask.as_strided(x.shape, x.stride())


#: Channel count up to which the graph gradient is one contraction rather than per-row products
#: (measured on CPU: 16 channels 22 vs 50 ms, 64 channels 20 vs 15 ms at 6400/1664 rows).
_NARROW = 16


class _Aggregate(torch.autograd.Function):
    """``rows (B, V, C)``, ``graph (U, V)`` -> ``graph @ rows[b]`` for every b, ``(B, U, C)``.

    ``torch.bmm`` on an expanded graph. Autograd's graph gradient would materialise B per-row
    ``(U, V)`` products and sum them; for narrow rows one contraction over (b, c) is cheaper.
    The backward is made of differentiable ops, so double backward works.
    """

    @staticmethod
    def forward(ctx, rows: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows, graph)
        return torch.bmm(graph.expand(rows.shape[0], -1, -1), rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        rows, graph = ctx.saved_tensors
        grad_rows = grad_graph = None
        if ctx.needs_input_grad[0]:  # dtype casts: under autocast the forward ran in lower precision
            grad_rows = torch.bmm(graph.to(grad.dtype).t().expand(rows.shape[0], -1, -1), grad).to(rows.dtype)
        if ctx.needs_input_grad[1]:
            rows = rows.to(grad.dtype)
            if rows.shape[-1] <= _NARROW:  # one GEMM after permute copies of grad and rows
                grad_graph = torch.einsum("buc,bvc->uv", grad, rows)
            else:                          # per-row GEMMs are big enough; no copies
                grad_graph = torch.bmm(grad, rows.transpose(1, 2)).sum(dim=0)
            grad_graph = grad_graph.to(graph.dtype)
        return grad_rows, grad_graph


#: Ways to compute the graph convolution (the ``model.aggregation`` option): ``partitions``
#: (batched products with the K partition matrices, then the 1x1 weights), ``dense`` (one GEMM
#: with the folded ``(V*C_in, V*C_out)`` operator), ``auto`` (``dense`` where it is faster).
AGGREGATIONS = ("auto", "partitions", "dense")
#: ``auto`` uses ``dense`` up to this ``C_in * C_out``. Measured on CPU (1 thread, batch 16, forward
#: + backward of one graph conv): dense 4x faster at 3->8 channels, 2.8x at 8->8, 2.6x at 3->16,
#: 1.5x at 8->16, 0.75x at 16->16 and slower the wider the block (docs/method.md, "How it is
#: computed"; whole steps: docs/training.md).
DENSE_MAX_CHANNEL_PRODUCT = 128


def dense_is_faster(in_channels: int, out_channels: int) -> bool:
    """Whether ``auto`` computes a ``in_channels -> out_channels`` graph conv with the dense operator."""
    return in_channels * out_channels <= DENSE_MAX_CHANNEL_PRODUCT


class GraphConv(nn.Conv2d):
    """The official 1x1 conv to ``K * out`` channels plus aggregation over K partition matrices.

    ``forward(x (B, C_in, T, V), a (K, V, V)) -> (B, C_out, T, V)`` (channels-last) with
    ``out[b, c, t, w] = sum_k sum_v (conv(x)[b, k * C_out + c, t, v]) a[k, v, w]``, computed as
    ``aggregation`` says (:data:`AGGREGATIONS`; ``auto`` resolves here, from the channel counts).
    """

    bias: torch.Tensor  # always built with a bias

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int, aggregation: str = "auto"):
        super().__init__(in_channels, out_channels * num_subsets, kernel_size=1)
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {AGGREGATIONS}")
        self.num_subsets = num_subsets
        self.out_per_subset = out_channels
        self.dense = aggregation == "dense" or (aggregation == "auto" and dense_is_faster(in_channels, out_channels))

    # Takes the partition matrices besides the input, unlike Conv2d.forward: the subclass keeps
    # the official conv's parameters (names and shapes), not its call signature.
    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x (B, C_in, T, V)``, ``a (K, V, V)`` -> ``(B, C_out, T, V)``, channels-last."""
        b, c_in, t, v = x.shape
        k, c_out = self.num_subsets, self.out_per_subset
        bias = torch.einsum("kc,kw->wc", self.bias.view(k, c_out), a.sum(dim=1))  # (V, C_out)
        if self.dense:
            rows = x.permute(0, 2, 3, 1).reshape(b * t, v * c_in)            # free if channels-last
            # [v*C_in + i, w*C_out + o] = sum_k a[k, v, w] weight[k*C_out + o, i]
            operator = torch.einsum("kvw,koi->viwo", a, self.weight.view(k, c_out, c_in))
            out = torch.addmm(bias.view(v * c_out), rows, operator.reshape(v * c_in, v * c_out))
        else:
            rows = x.permute(0, 2, 3, 1).reshape(b * t, v, c_in)            # free if channels-last
            graph = a.permute(2, 0, 1).reshape(v * k, v)                     # [w*K + k, v] = a[k, v, w]
            gathered = _Aggregate.apply(rows, graph)                         # (B*T, V*K, C_in)
            weight = self.weight.view(k, c_out, c_in).transpose(1, 2).reshape(k * c_in, c_out)
            out = torch.matmul(gathered.view(b * t, v, k * c_in), weight).add_(bias)  # (B*T, V, C_out)
        return out.view(b, t, v, c_out).permute(0, 3, 1, 2)


class PointwiseConv(nn.Conv2d):
    """1x1 conv with a temporal stride, as a matmul: ``(B, C_in, T, V) -> (B, C_out, ceil(T / s), V)``.

    Same parameters and function as ``nn.Conv2d(C_in, C_out, 1, (s, 1))``. oneDNN's channels-last
    strided 1x1 convolution corrupts the heap in its weight gradient (torch 2.13 CPU, one thread,
    3-4 input channels); the matmul has no such case and is as fast.
    """

    bias: torch.Tensor  # always built with a bias

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size=1, stride=(stride, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last output."""
        x = x[:, :, ::self.stride[0]]
        b, c_in, t, v = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(b * t * v, c_in)               # free if channels-last, stride 1
        out = torch.addmm(self.bias, rows, self.weight.view(self.out_channels, c_in).t())
        return out.view(b, t, v, self.out_channels).permute(0, 3, 1, 2)


class STGCNBlock(nn.Module):
    """Graph conv -> BN -> ReLU -> temporal conv (9x1, stride) -> BN -> dropout, + residual, ReLU.

    ``(B, C_in, T, V) -> (B, C_out, ceil(T / stride), V)``, channels-last in and out.
    """

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int, num_joints: int,
                 stride: int = 1, residual: bool = True, dropout: float = 0.0,
                 edge_importance: bool = True, aggregation: str = "auto"):
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, num_subsets, aggregation)
        self.edge_importance = nn.Parameter(torch.ones(num_subsets, num_joints, num_joints),
                                            requires_grad=edge_importance)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.tconv = nn.Conv2d(out_channels, out_channels, (TEMPORAL_KERNEL, 1), (stride, 1),
                               (TEMPORAL_KERNEL // 2, 0))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(PointwiseConv(in_channels, out_channels, stride),
                                          nn.BatchNorm2d(out_channels))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``x (B, C_in, T, V)``, ``a (K, V, V)`` the partition matrices."""
        h = self.gcn(x, a * self.edge_importance)
        h = self.bn2(self.tconv(self.bn1(h).relu_()))
        if self.training and self.dropout > 0:
            h = h.mul_(dropout_mask(h, self.dropout))
        if self.residual is not None:
            h = h.add_(self.residual(x))
        return h.relu_()


class STGCN(nn.Module):
    """``(N, C, T, V, M) -> (N, M, out_channels, T', V)`` feature map (``T' = 13`` for ``T = 50``).

    Input BN over ``V * C`` channels with statistics over bodies and frames, then the ten blocks
    of :data:`BLOCKS`; dropout is 0 in block 1 and ``dropout`` in blocks 2-10 (as the official
    code, which passes the model's ``dropout`` to every block but the first).
    ``edge_importance=False`` freezes the per-block masks at one (official
    ``edge_importance_weighting: False``). ``partition`` selects :func:`spatial_partition`'s variant,
    ``aggregation`` how the graph convolutions are computed (:data:`AGGREGATIONS`; same function).
    """

    A: torch.Tensor  # (K, V, V) partition matrices (a buffer)

    def __init__(self, in_channels: int = 3, hidden_channels: int = 16, out_channels: int = 256,
                 num_joints: int = NUM_JOINTS, dropout: float = 0.5, edge_importance: bool = True,
                 partition: str = "official", aggregation: str = "auto"):
        super().__init__()
        if num_joints != NUM_JOINTS:
            raise ValueError(f"the skeleton graph has {NUM_JOINTS} joints, got num_joints={num_joints}")
        self.register_buffer("A", spatial_partition(partition), persistent=False)
        self.in_channels, self.out_channels, self.num_joints = in_channels, out_channels, num_joints
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        blocks, width = [], in_channels
        for index, (multiple, stride) in enumerate(BLOCKS):
            out = out_channels if multiple is None else hidden_channels * multiple
            blocks.append(STGCNBlock(width, out, self.A.shape[0], num_joints, stride=stride,
                                     residual=index > 0, dropout=0.0 if index == 0 else dropout,
                                     edge_importance=edge_importance, aggregation=aggregation))
            width = out
        self.blocks = nn.ModuleList(blocks)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M) -> (N, M, out_channels, T', V)``, a channels-last view."""
        if x.dim() != 5 or x.shape[1] != self.in_channels or x.shape[3] != self.num_joints:
            raise ValueError(f"STGCN expects (N, {self.in_channels}, T, {self.num_joints}, M), "
                             f"got {tuple(x.shape)}")
        n, c, t, v, m = x.shape
        rows = x.permute(0, 4, 2, 3, 1).reshape(n * m * t, v * c)           # channel index v*C + c
        h = self.data_bn(rows).view(n * m, t, v, c).permute(0, 3, 1, 2)      # (N*M, C, T, V), channels-last
        for block in self.blocks:
            h = block(h, self.A)
        return h.view(n, m, *h.shape[1:])


#: Official ``net/st_gcn.py`` parameter names -> this module's (spec section 0 sources).
_OFFICIAL_NAMES = (
    (r"st_gcn_networks\.(\d+)\.gcn\.conv\.(weight|bias)", r"blocks.\1.gcn.\2"),
    (r"st_gcn_networks\.(\d+)\.tcn\.0\.(.+)", r"blocks.\1.bn1.\2"),
    (r"st_gcn_networks\.(\d+)\.tcn\.2\.(.+)", r"blocks.\1.tconv.\2"),
    (r"st_gcn_networks\.(\d+)\.tcn\.3\.(.+)", r"blocks.\1.bn2.\2"),
    (r"st_gcn_networks\.(\d+)\.residual\.([01])\.(.+)", r"blocks.\1.residual.\2.\3"),
    (r"edge_importance\.(\d+)", r"blocks.\1.edge_importance"),
    (r"data_bn\.(.+)", r"data_bn.\1"),
)


def official_key(name: str) -> str:
    """This backbone's state-dict key for an official ST-GCN key (``A`` has none: not stored)."""
    for pattern, replacement in _OFFICIAL_NAMES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name)
    raise KeyError(f"not an official ST-GCN backbone parameter: {name!r}")
