"""The two file formats a run writes, saved atomically and loaded with ``weights_only=True``.

Layout inside a run directory::

    checkpoints/last.pt          full training state after every epoch (overwritten atomically)
    checkpoints/epoch_0050.pt    every ``train.save_every`` epochs
    encoder.pt                   the query encoder for evaluation, at the end

Both are plain dicts of tensors, numbers, strings, lists and dicts (no pickled objects), so
they load with the safe unpickler. This module is the one reader and writer of both formats:
:func:`read_encoder` takes either and returns the query encoder's weights, its model config and
where they come from.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from actclr.engine.config import encoder_options
from actclr.store.atomic import atomic_path

LAST = "last.pt"
#: ``format`` of a full training checkpoint (``RUN/checkpoints/*.pt``).
CHECKPOINT_FORMAT = "actclr-pretrain-checkpoint/1"
#: ``format`` of ``RUN/encoder.pt``: query encoder weights + model config + stream, for evaluation.
ENCODER_FORMAT = "actclr-encoder/1"
#: Keys every training checkpoint has.
CHECKPOINT_KEYS = ("format", "epoch", "phase", "method", "optimizer", "rng", "config")
#: Prefix of the query encoder's weights in a training checkpoint's ``method`` state.
QUERY_PREFIX = "encoder_q."


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or not the expected kind; names the file."""


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def last_path(run_dir: str | os.PathLike) -> Path:
    """``RUN/checkpoints/last.pt``."""
    return checkpoint_dir(run_dir) / LAST


def best_path(run_dir: str | os.PathLike) -> Path:
    """``RUN/checkpoints/best.pt``: the phase's best epoch by the kNN monitor (``monitor.guard: stop``)."""
    return checkpoint_dir(run_dir) / "best.pt"


def epoch_path(run_dir: str | os.PathLike, epoch: int) -> Path:
    """``RUN/checkpoints/epoch_XXXX.pt`` for a 1-based global epoch."""
    return checkpoint_dir(run_dir) / f"epoch_{epoch:04d}.pt"


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` with ``torch.save`` to a temporary sibling, then rename it into place."""
    with atomic_path(path) as tmp:
        torch.save(dict(state), tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    required: tuple = ()) -> dict:
    """Load a checkpoint with the safe unpickler; check that the ``required`` keys exist."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: cannot load checkpoint with weights_only=True: {err}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(state).__name__}")
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint (missing {', '.join(missing)})")
    return state


def load_training_checkpoint(path: str | os.PathLike) -> dict:
    """A full training checkpoint (``RUN/checkpoints/*.pt``) for resuming; refuses other kinds."""
    state = load_checkpoint(path, required=CHECKPOINT_KEYS)
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: format {state['format']!r}, expected {CHECKPOINT_FORMAT!r}")
    return state


def encoder_export(encoder: Mapping[str, Any], model: Mapping, *, stream: str, method: str, epochs: int,
                   benchmark: str, dataset_info: Mapping, config_hash: str) -> dict:
    """The content of ``RUN/encoder.pt``: query encoder weights, its model config and provenance."""
    return {"format": ENCODER_FORMAT, "encoder": dict(encoder), "model": dict(model),
            "stream": stream, "method": method, "epochs": epochs, "benchmark": benchmark,
            "dataset": {"name": dataset_info.get("name"), "fingerprint": dataset_info.get("fingerprint")},
            "config_hash": config_hash}


def _from_training_checkpoint(state: Mapping, path: Path) -> tuple[dict, dict, dict]:
    """``(encoder state, model config, info)`` of a pretraining checkpoint's query encoder."""
    cfg = state.get("config") or {}
    weights = {k[len(QUERY_PREFIX):]: v for k, v in state["method"].items() if k.startswith(QUERY_PREFIX)}
    if not weights:
        raise CheckpointError(f"{path}: the checkpoint's method has no {QUERY_PREFIX}* weights")
    info = {"method": state.get("method_name"), "epochs": state.get("epoch"),
            "stream": cfg.get("data", {}).get("stream"), "benchmark": cfg.get("data", {}).get("benchmark"),
            "dataset_fingerprint": state.get("dataset_fingerprint")}
    return weights, encoder_options(cfg.get("model", {})), info


def read_encoder(path: str | os.PathLike) -> tuple[dict, dict, dict]:
    """``(encoder state_dict, model config, info)`` of an ``encoder.pt`` or a training checkpoint.

    ``info``: ``method``, ``epochs``, ``stream``, ``benchmark``, ``dataset_fingerprint`` (and
    ``dataset_name`` for an ``encoder.pt``), JSON-friendly."""
    path = Path(path)
    state = load_checkpoint(path)
    kind = state.get("format")
    if kind == ENCODER_FORMAT:
        dataset = state.get("dataset") or {}
        info = {"method": state.get("method"), "epochs": state.get("epochs"), "stream": state.get("stream"),
                "benchmark": state.get("benchmark"), "dataset_fingerprint": dataset.get("fingerprint"),
                "dataset_name": dataset.get("name")}
        return state["encoder"], encoder_options(state.get("model", {})), info
    if kind == CHECKPOINT_FORMAT:
        return _from_training_checkpoint(state, path)
    raise CheckpointError(f"{path}: neither an encoder.pt ({ENCODER_FORMAT}) nor a pretraining "
                          f"checkpoint ({CHECKPOINT_FORMAT}); format is {kind!r}")
