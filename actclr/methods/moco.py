"""MoCo v2 machinery: momentum (EMA) update, the negative-key queue and shuffle-BN.

Everything here works on one process and under ``torch.distributed`` (DDP): the collective helpers
are the identity when no process group is initialised; in a group (even of one rank) they run
the collectives.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from actclr.augment import to_stream
from actclr.methods.options import MomentumOptions
from actclr.models.encoder import Encoder
from actclr.ranks import grouped, rank, world_size

#: Where the embeddings a query is compared with come from (the ``bank`` method option).
#: ``queue``: the queue of earlier keys (MoCo, the official code). ``batch``: the current step's
#: keys of every rank, as fresh as the positive (SimCLR / MoCo v3 style). ``queue+batch``: both.
BANKS = ("queue", "batch", "queue+batch")


@torch.no_grad()
def concat_all_gather(x: Tensor) -> Tensor:
    """Concatenate ``x (B, ...)`` from every rank along dim 0 -> ``(world*B, ...)``, in rank order.

    No gradient flows through the result. Identity without a process group. Every rank must pass
    the same ``B`` (all_gather needs equal shapes).
    """
    if not grouped():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float = 0.999) -> None:
    """EMA of parameters, ``target <- m * target + (1 - m) * online``, in place and without grad.

    As in MoCo, only parameters are averaged: buffers (BatchNorm running statistics) of the target
    are its own, estimated by its own train-mode forwards. ``online`` and ``target`` must have
    the same architecture (parameters are matched by name).
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {m}")
    online_params = dict(online.named_parameters())
    for name, p_t in target.named_parameters():
        p_t.lerp_(online_params[name].detach(), 1.0 - m)


class Queue(nn.Module):
    """FIFO memory bank of L2-normalised keys (MoCo's queue).

    Buffers (saved in checkpoints): ``embeddings (size, dim)`` and ``ptr`` (index of the oldest
    entry, i.e. where the next key is written). Initialised with random unit vectors.
    """

    embeddings: Tensor
    ptr: Tensor

    def __init__(self, dim: int, size: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"queue dim and size must be positive, got dim={dim}, size={size}")
        self.register_buffer("embeddings", torch.empty(size, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.reset(generator)

    @property
    def size(self) -> int:
        return self.embeddings.shape[0]

    @torch.no_grad()
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Refill with random unit vectors and rewind the pointer (a fresh queue)."""
        fresh = torch.randn(self.embeddings.shape, generator=generator, device="cpu")
        self.embeddings.copy_(F.normalize(fresh, dim=1))
        self.ptr.zero_()

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append ``keys (B, dim)`` from this rank (gathered over all ranks first), oldest out.

        Any ``B`` works: writes wrap around the end of the buffer, and when more keys arrive than
        the queue holds only the newest ``size`` are kept (in arrival order).
        """
        keys = concat_all_gather(keys.detach())
        if keys.ndim != 2 or keys.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"keys must be (B, {self.embeddings.shape[1]}), got {tuple(keys.shape)}")
        n = keys.shape[0]
        skip = max(0, n - self.size)
        idx = (self.ptr + skip + torch.arange(n - skip, device=keys.device)) % self.size
        self.embeddings[idx] = keys[skip:].to(self.embeddings.dtype)
        self.ptr.copy_((self.ptr + n) % self.size)


@torch.no_grad()
def batch_shuffle_ddp(x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Shuffle-BN across ranks: gather ``x (B, ...)``, permute globally, return this rank's slice.

    Returns ``(x_shuffled (B, ...), unshuffle (world*B,))``; pass ``unshuffle`` to
    :func:`batch_unshuffle_ddp`. The permutation is drawn on rank 0 and broadcast. Without a
    process group the batch is returned unchanged (identity permutation): see :func:`shuffled_forward`.
    """
    if not grouped():
        return x, torch.arange(x.shape[0], device=x.device)
    ranks = world_size()
    x_all = concat_all_gather(x)
    perm = torch.randperm(x_all.shape[0], device=x.device, generator=generator)
    dist.broadcast(perm, src=0)
    mine = perm.view(ranks, -1)[rank()]
    return x_all[mine], torch.argsort(perm)


@torch.no_grad()
def batch_unshuffle_ddp(x: Tensor, unshuffle: Tensor) -> Tensor:
    """Undo :func:`batch_shuffle_ddp` for an output ``x (B, ...)`` computed on the shuffled slice."""
    if not grouped():
        return x[unshuffle]
    ranks = world_size()
    x_all = concat_all_gather(x)
    return x_all[unshuffle.view(ranks, -1)[rank()]]


def shuffled_forward(fn: Callable[[Tensor], Tensor], x: Tensor, generator: torch.Generator,
                     bn_splits: int = 1) -> Tensor:
    """Run a key forward ``fn(x (B, ...)) -> (B, ...)`` with shuffle-BN; output in input order.

    Under DDP the batch is shuffled across ranks (MoCo). On one process shuffle-BN is a no-op
    unless ``bn_splits > 1``: then the batch is randomly permuted and split into ``bn_splits``
    groups forwarded separately, so BatchNorm statistics are computed per group (MoCo's
    single-GPU "SplitBatchNorm" emulation). ``fn`` must run without grad.
    """
    if world_size() > 1:
        x_shuffled, unshuffle = batch_shuffle_ddp(x, generator)
        return batch_unshuffle_ddp(fn(x_shuffled), unshuffle)
    if bn_splits <= 1:
        return fn(x)
    if x.shape[0] < bn_splits:
        raise ValueError(f"batch of {x.shape[0]} cannot be split into bn_splits={bn_splits} groups")
    perm = torch.randperm(x.shape[0], device=x.device, generator=generator)
    out = torch.cat([fn(chunk) for chunk in x[perm].chunk(bn_splits)], dim=0)
    return out[torch.argsort(perm)]


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast off on ``device``: augmentations keep the batch's float32 under AMP (``train.amp``),
    where their matrix products and convolutions would otherwise run in bf16/fp16 (a rotation
    rounded to 3 significant digits) and their in-place steps would mix dtypes."""
    return torch.autocast(device.type, enabled=False)


class MomentumContrast(nn.Module):
    """An online encoder, its momentum copy, a queue and the comparison bank: the part shared by
    MoCo v2, AimCLR and ActCLR, set up from the method's options (a ``MomentumOptions``).

    ``encoder`` follows ``actclr.models.Encoder`` (``feature_map``, ``pool``, ``projector``,
    ``embed``, ``embed_dim``). ``encoder_k`` starts as a deep copy of ``encoder_q`` and never
    receives gradients (exclude it from the optimizer:
    ``[p for p in method.parameters() if p.requires_grad]``). ``forward`` runs the subclass's
    ``training_step`` so that a DDP-wrapped method is called as ``ddp(x, epoch, g)``; the step
    returns ``(loss, logs)`` and never calls backward.
    """

    def __init__(self, encoder: Encoder, augmenter, options: MomentumOptions, *, stream: str = "joint") -> None:
        super().__init__()
        if options.bank not in BANKS:
            raise ValueError(f"method option bank={options.bank!r}: choose one of {', '.join(BANKS)}")
        self.encoder_q = encoder
        self.encoder_k = copy.deepcopy(encoder).requires_grad_(False)
        self.queue = Queue(encoder.embed_dim, options.queue_size)
        self.augmenter = augmenter
        self.options = options
        self.stream = stream
        self.momentum = options.momentum
        self.bn_splits = options.bn_splits
        self.bank = options.bank

    #: ``(x, epoch, g) -> (loss, logs)``: defined by each method (MoCoV2, ActCLR).
    training_step: Callable[[Tensor, int, torch.Generator], tuple[Tensor, dict[str, float]]]

    def forward(self, x: Tensor, epoch: int, g: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """The subclass's ``training_step`` on raw joint positions ``x (N, 3, T, V, M)``;
        ``epoch`` is 1-based, ``g`` a generator on ``x.device``."""
        return self.training_step(x, epoch, g)

    def view(self, name: str, x: Tensor, g: torch.Generator, epoch: int) -> Tensor:
        """Augmented view ``name`` of joint positions, converted to the trained stream (in full
        precision under AMP)."""
        with full_precision(x.device):
            return to_stream(self.augmenter.view(name, x, g, epoch), self.stream)

    def query(self, x: Tensor) -> Tensor:
        """L2-normalised online embedding ``(N, D)`` (with grad)."""
        return F.normalize(self.encoder_q.embed(x), dim=1)

    def contrast_key(self, view: str, x: Tensor, g: torch.Generator,
                     epoch: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """The InfoNCE methods' key side: momentum update, then ``(k (N, D), bank, own)`` with
        ``k`` the L2-normalised key-encoder embedding of view ``view`` (shuffle-BN) and the
        comparison bank of :meth:`comparison_bank`. No grad."""
        momentum_update(self.encoder_q, self.encoder_k, self.momentum)
        x_k = self.view(view, x, g, epoch)
        with torch.no_grad():
            k = F.normalize(shuffled_forward(self.encoder_k.embed, x_k, g, self.bn_splits), dim=1)
            return (k, *self.comparison_bank(k))

    @torch.no_grad()
    def comparison_bank(self, k: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(bank (K, D), own)`` for this step's keys ``k (N, D)`` (see :data:`BANKS`).

        The batch part comes first: the keys of all ranks in rank order, so ``own (N,)`` indexes
        each row's own key in the bank (``None`` when the bank has no batch part). The queue part
        is a snapshot: the loss graph must outlive the step's enqueue.
        """
        parts, own = [], None
        if self.bank != "queue":
            parts.append(concat_all_gather(k))
            own = torch.arange(k.shape[0], device=k.device) + rank() * k.shape[0]
        if self.bank != "batch":
            parts.append(self.queue.embeddings.clone())
        return torch.cat(parts), own

    @torch.no_grad()
    def init_from(self, warmup: MomentumContrast) -> None:
        """Start from a warm-up phase (spec section 4): both encoders take the warm-up *query*
        encoder's weights (BN statistics included) and the queue is refilled with random keys.

        Parameters are copied in place, so an optimizer built on this method stays valid (its
        momentum buffers belong to the trainer, which should start a fresh optimizer).
        """
        state = warmup.encoder_q.state_dict()
        self.encoder_q.load_state_dict(state)
        self.encoder_k.load_state_dict(state)
        self.queue.reset()


def mean_pairwise_cosine(z: Tensor) -> Tensor:
    """Mean cosine over the distinct pairs of L2-normalised rows ``z (N, D)`` -> scalar.

    A collapse diagnostic: 1.0 when all embeddings coincide, ~0 for unrelated directions.
    """
    n = z.shape[0]
    return (z.sum(0).square().sum() - n) / max(n * (n - 1), 1)


def step_logs(values: dict[str, Tensor]) -> dict[str, float]:
    """Detached scalar tensors -> floats with a single device synchronisation."""
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    return dict(zip(values, stacked.tolist()))
