"""Augmentation views built from a YAML-style configuration, with the epoch curriculum.

Configuration (see ``docs/augmentations.md``)::

    views:                      # view name -> ordered steps ({name: transform, **params} or a name)
      weak:   [{name: crop, pad: 8}, {name: shear, amplitude: 0.5}]
      normal: [crop, shear, {name: flip, p: 0.5}, rotate, ...]
    base: [crop, shear]         # optional: always-on transforms (default crop, shear)
    seed: 0                     # optional: seeds the per-epoch choice of kept transforms
    curriculum:                 # optional; 1-based epochs, a stage applies from after_epoch + 1
      - {after_epoch: 100, keep: {normal: 3, extreme: 5}}
      - {after_epoch: 300, keep: {normal: 0, extreme: 0}, base: off}
"""
from __future__ import annotations

import inspect
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from actclr.augment.effects import Effect, apply_fused
from actclr.augment.transforms import get_transform

BASE_TRANSFORMS = ("crop", "shear")
CONFIG_KEYS = ("views", "curriculum", "base", "seed")


class AugmentConfigError(ValueError):
    """An augmentation configuration that cannot be built; the message names the entry."""


@dataclass(frozen=True)
class Step:
    """One transform of a view with its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, x: Tensor, g: torch.Generator) -> Tensor:
        return get_transform(self.name)(x, g, **self.params)

    def effects(self, x: Tensor, g: torch.Generator) -> tuple[Effect, ...] | None:
        """The step's effects drawn from ``g`` for a batch shaped like ``x``, or None (drawing
        nothing) if its transform has no effects form (AdaIN, Skeleton Mix)."""
        draw = getattr(get_transform(self.name), "effects", None)
        return None if draw is None else draw(x, g, **self.params)


@dataclass(frozen=True)
class Stage:
    """From epoch ``after_epoch + 1`` on: keep ``keep[view]`` optional transforms of a view
    (views not listed keep all) and run the base transforms only if ``base``."""

    after_epoch: int
    keep: Mapping[str, int] = field(default_factory=dict)
    base: bool = True


class Augmenter:
    """Named views of a batch; which transforms run depends on the epoch (1-based)."""

    def __init__(self, views: Mapping[str, Sequence[Step]], curriculum: Sequence[Stage] = (),
                 base: Iterable[str] = BASE_TRANSFORMS, seed: int = 0) -> None:
        self.views = {name: tuple(steps) for name, steps in views.items()}
        self.curriculum = tuple(sorted(curriculum, key=lambda s: s.after_epoch))
        self.base = frozenset(base)
        self.seed = int(seed)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.views)

    def stage(self, epoch: int) -> Stage | None:
        """The curriculum stage in force at ``epoch`` (None before the first stage)."""
        if epoch < 1:
            raise ValueError(f"epochs are 1-based, got epoch {epoch}")
        current = None
        for stage in self.curriculum:
            if epoch > stage.after_epoch:
                current = stage
        return current

    def steps(self, name: str, epoch: int) -> list[Step]:
        """The steps of view ``name`` that run at ``epoch``, in configuration order.

        The kept subset of optional (non-base) steps is drawn once per (seed, epoch, view) from
        its own generator, so it is reproducible and identical on every rank.
        """
        if name not in self.views:
            raise KeyError(f"unknown view {name!r}; configured views: {', '.join(self.views)}")
        steps = self.views[name]
        stage = self.stage(epoch)
        if stage is None:
            return list(steps)
        optional = [i for i, s in enumerate(steps) if s.name not in self.base]
        keep = stage.keep.get(name, len(optional))
        rng = np.random.default_rng([self.seed, epoch, zlib.crc32(name.encode())])
        kept = set(rng.choice(optional, size=keep, replace=False).tolist()) if keep else set()
        return [s for i, s in enumerate(steps) if i in kept or (s.name in self.base and stage.base)]

    def active(self, name: str, epoch: int) -> list[str]:
        """Names of the transforms of view ``name`` active at ``epoch`` (for logging)."""
        return [s.name for s in self.steps(name, epoch)]

    def view(self, name: str, x: Tensor, g: torch.Generator, epoch: int) -> Tensor:
        """View ``name`` of the batch ``x`` (N, C, T, V, M) at ``epoch``.

        Equal (up to float rounding) to applying the steps in turn, with the same draws from
        ``g``: each run of steps with effects is drawn in order, then applied fused
        (:func:`~actclr.augment.effects.apply_fused`); other steps run as they are.
        """
        pending: list[Effect] = []
        for step in self.steps(name, epoch):
            drawn = step.effects(x, g)
            if drawn is None:
                x = step(apply_fused(x, pending), g)
                pending = []
            else:
                pending.extend(drawn)
        return apply_fused(x, pending)

    def __call__(self, x: Tensor, g: torch.Generator, epoch: int,
                 names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """All configured views of ``x`` (or those in ``names``), each from independent draws."""
        return {name: self.view(name, x, g, epoch) for name in (self.names if names is None else names)}


def _parse_step(view: str, index: int, entry: Any) -> Step:
    where = f"augment config: view {view!r}, step {index + 1}"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise AugmentConfigError(f"{where}: expected a transform name or a mapping with 'name', got {entry!r}")
    params = {k: v for k, v in entry.items() if k != "name"}
    try:
        fn = get_transform(entry["name"])
    except KeyError as err:
        raise AugmentConfigError(f"{where}: {err.args[0]}") from None
    try:
        inspect.signature(fn).bind(None, None, **params)
    except TypeError as err:
        raise AugmentConfigError(f"{where} ({entry['name']}): bad parameters {params}: {err}") from None
    return Step(entry["name"], params)


def _parse_switch(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("on", "off"):
        return value == "on"
    raise AugmentConfigError(f"{where}: base must be on/off (or true/false), got {value!r}")


def _parse_stage(index: int, entry: Any, views: Mapping[str, Sequence[Step]],
                 base: frozenset[str]) -> Stage:
    where = f"augment config: curriculum stage {index + 1}"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("after_epoch"), int):
        raise AugmentConfigError(f"{where}: expected a mapping with an integer 'after_epoch', got {entry!r}")
    unknown = set(entry) - {"after_epoch", "keep", "base"}
    if unknown:
        raise AugmentConfigError(f"{where}: unknown keys {sorted(unknown)}")
    keep = dict(entry.get("keep") or {})
    for view, count in keep.items():
        if view not in views:
            raise AugmentConfigError(f"{where}: keep names unknown view {view!r}")
        optional = sum(s.name not in base for s in views[view])
        if not isinstance(count, int) or not 0 <= count <= optional:
            raise AugmentConfigError(f"{where}: keep {view}: {count!r} must be an integer in [0, {optional}] "
                                     f"(the view's optional transforms)")
    return Stage(entry["after_epoch"], keep, _parse_switch(where, entry.get("base", "on")))


def build_augmenter(cfg: Mapping[str, Any]) -> Augmenter:
    """Build an :class:`Augmenter` from a YAML-style dict (format in the module docstring)."""
    if not isinstance(cfg, Mapping) or not isinstance(cfg.get("views"), Mapping) or not cfg["views"]:
        raise AugmentConfigError("augment config: expected a mapping with a non-empty 'views' mapping")
    unknown = set(cfg) - set(CONFIG_KEYS)
    if unknown:
        raise AugmentConfigError(f"augment config: unknown keys {sorted(unknown)}; allowed: {CONFIG_KEYS}")
    views = {}
    for name, entries in cfg["views"].items():
        if not isinstance(entries, Sequence) or isinstance(entries, str):
            raise AugmentConfigError(f"augment config: view {name!r}: expected a list of steps, got {entries!r}")
        views[name] = [_parse_step(name, i, e) for i, e in enumerate(entries)]
    base = frozenset(cfg.get("base", BASE_TRANSFORMS))
    stages = [_parse_stage(i, s, views, base) for i, s in enumerate(cfg.get("curriculum") or ())]
    epochs = [s.after_epoch for s in stages]
    if epochs != sorted(set(epochs)):
        raise AugmentConfigError(f"augment config: curriculum after_epoch values must increase, got {epochs}")
    return Augmenter(views, stages, base, cfg.get("seed", 0))
