"""Drawn transforms ("effects") and their fused application.

A transform that is linear in the data (or adds noise) is split in two: ``*_effects(x, g, **params)``
draws every per-sample parameter from ``g`` and returns a tuple of effects; applying them is
deterministic. Three kinds, all for ``(N, C=3, T, V, M)`` batches:

- :class:`CoordMap`: ``p -> A_n p`` on the xyz axis (shear, rotate, axis mask, mirroring);
- :class:`AxisMap`: a map along ``T`` or ``V`` that treats the three coordinates alike (crop, speed,
  blur, joint flip, bone shrink), optionally restricted to the samples it changes;
- :class:`AddNoise`: ``x[rows] += scale * noise``.

Per-sample maps on different axes commute, so :func:`apply_fused` folds every coordinate map of a
view into one ``3 x 3`` matrix per sample applied once; noise added before a coordinate map is
transformed by it, which keeps the result equal to applying the effects in turn. It allocates one
batch-sized buffer per view: maps of every sample then run in place, one block of samples at a
time (:func:`in_blocks_`). With glibc, a freed batch-sized buffer is not reused for the next
request of the same size (the aligned allocation needs a little more), so every batch-sized
temporary costs fresh, page-faulted memory, which on CPU can take longer than the computation.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from actclr.augment.coords import apply_matrix

#: Samples per block of :func:`in_blocks_` are chosen to keep a block near this many bytes.
BLOCK_BYTES = 1 << 20


def in_blocks_(x: Tensor, fn: Callable[..., Tensor], params: Sequence[Tensor]) -> Tensor:
    """``x[b] = fn(x[b], *(p[b] for p in params))`` for consecutive blocks ``b`` of samples.

    ``fn`` maps a block (B, ...) and its per-sample ``params`` to a new (B, ...) tensor; the
    temporaries stay block-sized. ``x`` (N, ...) contiguous, modified and returned.
    """
    per_block = max(1, BLOCK_BYTES // max(1, x[0].numel() * x.element_size()))
    for start in range(0, x.shape[0], per_block):
        block = slice(start, start + per_block)
        x[block] = fn(x[block], *(p[block] for p in params))
    return x


class CoordMap(NamedTuple):
    """``p -> matrix[n] @ p`` for every point of sample ``n``; ``matrix`` (N, 3, 3)."""

    matrix: Tensor

    def apply(self, x: Tensor, inplace: bool = False) -> Tensor:
        """(N, 3, T, V, M) -> (N, 3, T, V, M): new, or ``x`` itself mapped in place."""
        if inplace:
            return in_blocks_(x, apply_matrix, (self.matrix,))
        return apply_matrix(x, self.matrix)


class AxisMap(NamedTuple):
    """``fn(x[rows], *params)`` on the samples ``rows`` (K,) long, sorted (None: every sample);
    the others are kept.

    ``fn`` maps the selected ``(K, C, T, V, M)`` to a new tensor of that shape, each sample on its
    own, along ``T`` or ``V`` only and identically on every coordinate (so it commutes with
    :class:`CoordMap`). ``params`` are per-sample tensors indexed like the selected samples.
    """

    fn: Callable[..., Tensor]
    params: tuple[Tensor, ...] = ()
    rows: Tensor | None = None

    def apply(self, x: Tensor, inplace: bool = False) -> Tensor:
        """(N, C, T, V, M) -> (N, C, T, V, M): new, or ``x`` itself changed in place."""
        if self.rows is None or self.rows.numel() == x.shape[0]:
            return in_blocks_(x, self.fn, self.params) if inplace else self.fn(x, *self.params)
        if self.rows.numel() == 0:
            return x
        changed = self.fn(x.index_select(0, self.rows), *self.params)
        return x.index_copy_(0, self.rows, changed) if inplace else x.index_copy(0, self.rows, changed)


class AddNoise(NamedTuple):
    """``x[rows] += scale * noise``; ``rows`` (K,) long, ``noise`` (K, C, T, V, M)."""

    rows: Tensor
    noise: Tensor
    scale: float

    def apply(self, x: Tensor, inplace: bool = False) -> Tensor:
        """(N, C, T, V, M) -> (N, C, T, V, M); ``inplace`` adds into ``x``."""
        if self.rows.numel() == 0:
            return x
        add = x.index_add_ if inplace else x.index_add
        return add(0, self.rows, self.noise, alpha=self.scale)


Effect = CoordMap | AxisMap | AddNoise
#: ``fn(x (N, C, T, V, M), g, **params) -> tuple[Effect, ...]``: draws from ``g``, reads only x's shape.
EffectsFn = Callable[..., tuple[Effect, ...]]


def apply_in_turn(x: Tensor, effects: Sequence[Effect]) -> Tensor:
    """Apply ``effects`` one after the other, never modifying ``x``. (N, C, T, V, M) -> same."""
    for effect in effects:
        x = effect.apply(x)
    return x


def apply_fused(x: Tensor, effects: Sequence[Effect]) -> Tensor:
    """The result of :func:`apply_in_turn` (up to rounding), with the coordinate maps fused.

    With ``C`` the product of every :class:`CoordMap` (later maps on the left), the batch is
    mapped by ``C`` once: in place right after the first effect that yields a new buffer, or
    before the first noise, whichever comes first (coordinate maps commute with the others).
    Noise is first mapped by the product of the coordinate maps that follow it. Every effect
    after the first runs in place on the one buffer this function allocates. Returns ``x``
    itself when nothing changes it. (N, C, T, V, M) -> same.
    """
    after: list[Tensor | None] = []          # per effect: product of the coordinate maps after it
    total: Tensor | None = None
    for effect in reversed(effects):
        after.append(total)
        if isinstance(effect, CoordMap):
            total = effect.matrix if total is None else total @ effect.matrix
    after.reverse()
    out = x
    for effect, later in zip(effects, after):
        if isinstance(effect, CoordMap):
            continue
        if isinstance(effect, AddNoise):
            out, total = _map_coords(x, out, total), None
            if later is not None:
                mapped = apply_matrix(effect.noise, later.index_select(0, effect.rows))
                effect = effect._replace(noise=mapped)
        out = effect.apply(out, inplace=out is not x)
        if out is not x:
            out, total = _map_coords(x, out, total), None
    return _map_coords(x, out, total)


def _map_coords(x: Tensor, out: Tensor, matrix: Tensor | None) -> Tensor:
    """``out`` mapped by ``matrix`` (N, 3, 3), in place unless ``out`` is the caller's ``x``."""
    return out if matrix is None else CoordMap(matrix).apply(out, inplace=out is not x)


def transform_of(effects_fn: EffectsFn) -> Callable[..., Tensor]:
    """The transform ``fn(x, g, **params) -> Tensor`` that draws ``effects_fn`` and applies the
    effects in turn. It is named after ``effects_fn`` without the ``_effects`` suffix, keeps its
    signature and docstring, and exposes it as ``fn.effects`` (used by the fused view executor)."""

    @functools.wraps(effects_fn)
    def transform(x: Tensor, g: torch.Generator, **params) -> Tensor:
        return apply_in_turn(x, effects_fn(x, g, **params))

    transform.__name__ = transform.__qualname__ = effects_fn.__name__.removesuffix("_effects")
    # A function attribute: mypy cannot declare one on the function that functools.wraps returns.
    transform.effects = effects_fn  # type: ignore[attr-defined]
    return transform
