"""Typed method settings read from (and written back to) YAML-style config mappings."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

OptionsT = TypeVar("OptionsT", bound="MethodOptions")


class MethodOptions:
    """Mixin for frozen dataclasses of method settings; ``METHOD`` names the method in errors."""

    METHOD = "method"
    #: Set by ``@dataclass`` on each subclass; declared so that type checkers see a dataclass.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @classmethod
    def from_config(cls: type[OptionsT], cfg: Mapping[str, Any], where: str = "method") -> OptionsT:
        """Options from a config mapping (the section ``where``, e.g. ``warmup.method``): ``name``
        is ignored, lists become tuples and an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - {"name"})
        if unknown:
            raise ValueError(f"unknown key '{where}.{unknown[0]}' ({cls.METHOD} method options: "
                             f"{', '.join(sorted(known | {'name'}))})")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k != "name"})

    def to_config(self) -> dict[str, Any]:
        """Plain YAML-friendly dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MomentumOptions(MethodOptions):
    """The settings of ``actclr.methods.moco.MomentumContrast`` that every method has (these
    fields come first in each method's options, in this order)."""

    queue_size: int = 65536
    momentum: float = 0.999
    bn_splits: int = 1  # one process: >1 emulates shuffle-BN by normalising key groups apart
    bank: str = "queue"  # queue (paper, official) | batch | queue+batch, see actclr.methods.moco.BANKS
