"""Full-state training checkpoints: saved atomically, loaded with ``weights_only=True``.

Layout inside a run directory::

    checkpoints/last.pt          after every epoch (overwritten atomically)
    checkpoints/epoch_0050.pt    every ``train.save_every`` epochs

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (no pickled
objects), so it loads with the safe unpickler.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from actclr.store.atomic import atomic_path

LAST = "last.pt"
#: ``format`` of a full training checkpoint (``RUN/checkpoints/*.pt``).
CHECKPOINT_FORMAT = "actclr-pretrain-checkpoint/1"
#: ``format`` of ``RUN/encoder.pt``: query encoder weights + model config + stream, for evaluation.
ENCODER_FORMAT = "actclr-encoder/1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or not the expected kind; names the file."""


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def last_path(run_dir: str | os.PathLike) -> Path:
    """``RUN/checkpoints/last.pt``."""
    return checkpoint_dir(run_dir) / LAST


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
