"""Self-supervised pretraining methods (registry ``METHODS``).

A method is an ``nn.Module`` whose ``training_step(x, epoch, g) -> (loss, logs)`` (also its
``forward``, for DDP) takes raw joint positions ``x (N, 3, T, V, M)`` on the device, the 1-based
epoch and a ``torch.Generator`` on that device; it never calls backward. See ``docs/method.md``.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from actclr.augment import Augmenter, build_augmenter, official_config
from actclr.methods.actclr import OFFICIAL, ActCLR, ActCLROptions
from actclr.methods.aimclr import AimCLR, AimCLROptions
from actclr.methods.moco import MomentumContrast
from actclr.methods.mocov2 import MoCoV2, MoCoV2Options
from actclr.methods.options import MethodOptions
from actclr.models.encoder import Encoder

#: name -> (method class, its options dataclass)
METHODS: dict[str, tuple[Callable[..., MomentumContrast], type[MethodOptions]]] = {
    "mocov2": (MoCoV2, MoCoV2Options),
    "aimclr": (AimCLR, AimCLROptions),
    "actclr": (ActCLR, ActCLROptions),
}


def _lookup(name: str) -> tuple[Callable[..., MomentumContrast], type[MethodOptions]]:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}") from None


def method_defaults(name: str) -> dict[str, Any]:
    """Default settings of method ``name`` as a plain dict (the config section without ``name``)."""
    return _lookup(name)[1]().to_config()


def method_options(section: Mapping[str, Any], where: str = "method") -> MethodOptions | None:
    """The options of a method config section (``where`` names it in errors), ``None`` for
    ``{name: null}`` (no method, e.g. no warm-up); ``ValueError`` naming the key otherwise. The
    one check of a method section (the config merge and :func:`build_method` both call it)."""
    name = section.get("name")
    if name is None:
        extra = sorted(set(section) - {"name"})
        if extra:
            raise ValueError(f"unknown key '{where}.{extra[0]}' (no method: set '{where}.name' first)")
        return None
    try:
        options_cls = _lookup(name)[1]
    except KeyError as err:
        raise ValueError(f"'{where}.name': {err.args[0]}") from None
    return options_cls.from_config(section, where)


def build_method(name: str, cfg: Mapping[str, Any], encoder_factory: Callable[[], Encoder], *,
                 augmenter: Augmenter | Mapping[str, Any] | None = None, stream: str = "joint",
                 average_motion: Tensor | None = None) -> MomentumContrast:
    """Build method ``name`` from its config section ``cfg`` (e.g. ``config["method"]``).

    ``encoder_factory()`` returns a fresh encoder (the online one; the momentum encoder is its
    deep copy). ``augmenter`` is an :class:`Augmenter` or the ``augment`` config section
    (default: the official views). ``stream`` is the trained input stream (``data.stream``).
    ``average_motion (3, T, V, M)`` is the prepared dataset's average motion
    (``PreparedDataset.average_motion(benchmark)``), needed by ActCLR's default dataset anchor.
    Each method receives the parts of this context (``stream``, ``average_motion``) that its
    constructor takes.
    """
    cls, options_cls = _lookup(name)
    if cfg.get("name", name) != name:
        raise ValueError(f"build_method({name!r}): the config section is for method {cfg['name']!r}")
    options = options_cls.from_config(cfg)
    if not isinstance(augmenter, Augmenter):
        augmenter = build_augmenter(official_config() if augmenter is None else augmenter)
    context = {"stream": stream, "average_motion": average_motion}
    wanted = inspect.signature(cls).parameters
    return cls(encoder_factory(), augmenter, options, **{k: v for k, v in context.items() if k in wanted})


__all__ = ["METHODS", "OFFICIAL", "ActCLR", "ActCLROptions", "AimCLR", "AimCLROptions", "MoCoV2", "MoCoV2Options",
           "build_method", "method_defaults", "method_options"]
