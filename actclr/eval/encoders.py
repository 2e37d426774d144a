"""Load the encoder an evaluation command works on.

``--checkpoint`` accepts:

- ``RUN/encoder.pt`` written at the end of ``actclr-train pretrain`` (format ``actclr-encoder/1``);
- a training checkpoint ``RUN/checkpoints/last.pt`` / ``epoch_XXXX.pt``: its query encoder;
- ``random``: the same architecture untrained, initialised from ``seed`` (the baseline).
  Its model settings come from ``model_cfg`` (default: ``actclr.models.DEFAULTS``).

The returned ``info`` records where the weights come from (path, method, epochs, the stream and
the fingerprint of the dataset they were trained on), so transfer runs can name source and target.
Both file formats are read by :func:`actclr.engine.checkpoint.read_encoder`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from actclr.engine.checkpoint import CheckpointError, read_encoder
from actclr.engine.config import encoder_options
from actclr.models import DEFAULTS, Encoder, build_encoder

RANDOM = "random"


def run_name(path: Path) -> str:
    """A short name of the run a checkpoint belongs to (``RUN`` of ``RUN/encoder.pt`` or
    ``RUN/checkpoints/last.pt``)."""
    path = path.resolve()
    return path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name


def load_encoder(checkpoint: str, device: torch.device, *, seed: int = 0,
                 model_cfg: Mapping | None = None) -> tuple[Encoder, dict]:
    """``(encoder on device, info)``; ``info`` is JSON-friendly (see the module docstring)."""
    if checkpoint == RANDOM:
        cfg = encoder_options(model_cfg if model_cfg is not None else DEFAULTS)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = build_encoder(cfg)
        info = {"source": RANDOM, "name": f"random (seed {seed})", "seed": seed, "method": None,
                "epochs": 0, "stream": None, "dataset_fingerprint": None, "model": cfg}
        return encoder.to(device), info
    path = Path(checkpoint)
    weights, cfg, info = read_encoder(path)
    encoder = build_encoder(cfg)
    expected, given = set(encoder.state_dict()), set(weights)
    if expected != given:
        missing, unexpected = sorted(expected - given), sorted(given - expected)
        raise CheckpointError(f"{path}: the encoder weights do not fit this version's encoder "
                              f"({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, "
                              f"e.g. {unexpected[:3]}); was it written by another actclr version?")
    try:
        encoder.load_state_dict(weights)
    except RuntimeError as err:  # same names, other shapes
        raise CheckpointError(f"{path}: the encoder weights do not fit the recorded model config: {err}") from None
    info = {"source": str(path), "name": run_name(path), **info, "model": cfg}
    return encoder.to(device), info
