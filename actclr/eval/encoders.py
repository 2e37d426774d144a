"""Load the encoder an evaluation command works on.

``--checkpoint`` accepts:

- ``RUN/encoder.pt`` written at the end of ``actclr-train pretrain`` (format ``actclr-encoder/1``);
- a training checkpoint ``RUN/checkpoints/last.pt`` / ``epoch_XXXX.pt``: its query encoder;
- ``random``: the same architecture untrained, initialised from ``seed`` (the baseline).
  Its model settings come from ``model_cfg`` (default: ``actclr.models.DEFAULTS``).

The returned ``info`` records where the weights come from (path, method, epochs, the stream and
the fingerprint of the dataset they were trained on), so transfer runs can name source and target.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import torch

from actclr.engine.checkpoint import CHECKPOINT_FORMAT, ENCODER_FORMAT, CheckpointError, load_checkpoint
from actclr.engine.config import ENGINE_MODEL_KEYS
from actclr.models import DEFAULTS, Encoder, build_encoder

RANDOM = "random"
QUERY_PREFIX = "encoder_q."


def _model_cfg(cfg: Mapping) -> dict:
    """A saved ``model`` section without the engine's keys (``sync_bn``, ...)."""
    return {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ENGINE_MODEL_KEYS}


def _from_training_checkpoint(state: Mapping, path: Path) -> tuple[dict, dict, dict]:
    """``(encoder state, model config, info)`` of a pretraining checkpoint's query encoder."""
    cfg = state.get("config") or {}
    weights = {k[len(QUERY_PREFIX):]: v for k, v in state["method"].items() if k.startswith(QUERY_PREFIX)}
    if not weights:
        raise CheckpointError(f"{path}: the checkpoint's method has no {QUERY_PREFIX}* weights")
    info = {"method": state.get("method_name"), "epochs": state.get("epoch"),
            "stream": cfg.get("data", {}).get("stream"), "benchmark": cfg.get("data", {}).get("benchmark"),
            "dataset_fingerprint": state.get("dataset_fingerprint")}
    return weights, _model_cfg(cfg.get("model", {})), info


def read_checkpoint(path: str | Path) -> tuple[dict, dict, dict]:
    """``(encoder state_dict, model config, info)`` of an ``encoder.pt`` or a training checkpoint."""
    path = Path(path)
    state = load_checkpoint(path)
    kind = state.get("format")
    if kind == ENCODER_FORMAT:
        dataset = state.get("dataset") or {}
        info = {"method": state.get("method"), "epochs": state.get("epochs"), "stream": state.get("stream"),
                "benchmark": state.get("benchmark"), "dataset_fingerprint": dataset.get("fingerprint"),
                "dataset_name": dataset.get("name")}
        return state["encoder"], _model_cfg(state.get("model", {})), info
    if kind == CHECKPOINT_FORMAT:
        return _from_training_checkpoint(state, path)
    raise CheckpointError(f"{path}: neither an encoder.pt ({ENCODER_FORMAT}) nor a pretraining "
                          f"checkpoint ({CHECKPOINT_FORMAT}); format is {kind!r}")


def run_name(path: Path) -> str:
    """A short name of the run a checkpoint belongs to (``RUN`` of ``RUN/encoder.pt`` or
    ``RUN/checkpoints/last.pt``)."""
    path = path.resolve()
    return path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name


def load_encoder(checkpoint: str, device: torch.device, *, seed: int = 0,
                 model_cfg: Mapping | None = None) -> tuple[Encoder, dict]:
    """``(encoder on device, info)``; ``info`` is JSON-friendly (see the module docstring)."""
    if checkpoint == RANDOM:
        cfg = _model_cfg(model_cfg if model_cfg is not None else DEFAULTS)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = build_encoder(cfg)
        info = {"source": RANDOM, "name": f"random (seed {seed})", "seed": seed, "method": None,
                "epochs": 0, "stream": None, "dataset_fingerprint": None, "model": cfg}
        return encoder.to(device), info
    path = Path(checkpoint)
    weights, cfg, info = read_checkpoint(path)
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
