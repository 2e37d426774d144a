"""Skeleton encoders: ST-GCN backbone, heads and the encoder wrapper."""
from __future__ import annotations

from collections.abc import Mapping

from actclr.models.encoder import Encoder, from_official
from actclr.models.heads import LinearClassifier, Projector
from actclr.models.init import init_weights
from actclr.models.stgcn import STGCN

#: Encoder options (the ``model`` config section). ``partition``: ``official`` (ST-GCN code,
#: default) or ``true`` (ST-GCN paper), see :func:`actclr.models.graph.spatial_partition`.
#: ``aggregation``: how the graph convolutions are computed, ``auto`` (default: per block, the
#: faster way on CPU), ``partitions`` or ``dense`` (:data:`actclr.models.stgcn.AGGREGATIONS`).
DEFAULTS = {"in_channels": 3, "hidden_channels": 16, "out_channels": 256, "dropout": 0.5,
            "edge_importance": True, "partition": "official", "aggregation": "auto",
            "projector": {"hidden_dim": 256, "out_dim": 128}}


#: Keys of a ``projector`` mapping (``projector: null`` for an encoder without one).
PROJECTOR_KEYS = ("hidden_dim", "out_dim")


def encoder_options(cfg: Mapping | None = None) -> dict:
    """The complete encoder options of a ``model`` config section (``DEFAULTS`` for missing keys);
    ``ValueError`` naming the key for an unknown key or a projector that is neither null nor a
    mapping of ``hidden_dim`` and ``out_dim``. The one check of the section (the config merge and
    :func:`build_encoder` both call it)."""
    cfg = {**DEFAULTS, **(cfg or {})}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown encoder option(s): {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    head = cfg["projector"]
    if head is not None and (not isinstance(head, Mapping) or set(head) != set(PROJECTOR_KEYS)):
        raise ValueError(f"encoder option projector: null (no projector) or a mapping of "
                         f"{', '.join(PROJECTOR_KEYS)}, got {head!r}")
    return cfg


def build_encoder(cfg: Mapping | None = None) -> Encoder:
    """Encoder from a config dict (keys of ``DEFAULTS``; ``projector: null`` for none), with the
    official initialisation."""
    cfg = encoder_options(cfg)
    backbone = STGCN(in_channels=cfg["in_channels"], hidden_channels=cfg["hidden_channels"],
                     out_channels=cfg["out_channels"], dropout=cfg["dropout"],
                     edge_importance=cfg["edge_importance"], partition=cfg["partition"],
                     aggregation=cfg["aggregation"])
    head = cfg["projector"]
    projector = None if head is None else Projector(cfg["out_channels"], head["hidden_dim"], head["out_dim"])
    return Encoder(backbone, projector)


__all__ = ["DEFAULTS", "PROJECTOR_KEYS", "Encoder", "LinearClassifier", "Projector", "STGCN", "build_encoder",
           "encoder_options", "from_official", "init_weights"]
