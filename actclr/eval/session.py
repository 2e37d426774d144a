"""What every evaluation starts from and how its ``metrics.json`` is assembled.

:func:`open_session` opens the prepared dataset, loads the encoder (``RUN/encoder.pt``, a training
checkpoint or ``random``), picks the benchmark (the checkpoint's if the dataset has it), checks
that its training and test splits hold samples, chooses the stream (the checkpoint's, else
``joint``) and, for a random encoder, estimates its BatchNorm statistics on the training split.
The evaluation functions of :mod:`actclr.eval.runs` start from the :class:`Session` it returns.

Errors: :class:`SessionError` for options that do not fit the dataset or the checkpoint (the
command line shows them as usage errors), :class:`actclr.engine.checkpoint.CheckpointError` for a
checkpoint that cannot be used, :class:`actclr.engine.config.ConfigError` for a bad
``model_config`` recipe.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from actclr.engine.config import load_recipe
from actclr.engine.dist import select_device
from actclr.eval.encoders import RANDOM, load_encoder
from actclr.eval.features import calibrate_batchnorm, h5_batches
from actclr.eval.holdout import require_split
from actclr.eval.outputs import data_record, transfer_record
from actclr.models.encoder import Encoder
from actclr.store import PreparedDataset, open_dataset


class SessionError(ValueError):
    """An evaluation cannot start as asked (names the option and what fits instead)."""

    exit_code = 2


@dataclass(frozen=True)
class SessionOptions:
    """Where the data and the encoder come from; the options every evaluation command shares.

    ``model_config``: with ``checkpoint="random"``, the ``model`` section of this recipe (name or
    YAML path) instead of the model defaults. ``bn_calibration``: with ``random``, estimate the
    BatchNorm statistics on the training split (no weight is trained)."""

    data: str
    checkpoint: str
    benchmark: str | None = None
    stream: str | None = None
    device: str = "auto"
    seed: int = 0
    workers: int = 0
    model_config: str | None = None
    bn_calibration: bool = True


@dataclass
class Session:
    """An opened dataset, its benchmark and the encoder to evaluate on ``stream``."""

    dataset: PreparedDataset
    benchmark: str
    encoder: Encoder
    encoder_info: dict
    stream: str
    device: torch.device

    def title(self, what: str) -> str:
        """``"<what>: <encoder> on <dataset>/<benchmark> (<stream>)"``."""
        where = f"{self.dataset.info.get('name')}/{self.benchmark}"
        return f"{what}: {self.encoder_info['name']} on {where} ({self.stream})"

    def metrics(self, command: str, title: str, knobs: Mapping, headline: Mapping, results: Mapping,
                notes: list, wall_time: float) -> dict:
        """The ``metrics.json`` content of an evaluation run (see :mod:`actclr.eval.outputs`)."""
        data = data_record(self.dataset, self.benchmark)
        encoder = dict(self.encoder_info)
        trained_on = encoder.get("stream")
        if trained_on not in (None, self.stream):
            notes = notes + [f"the encoder was trained on the {trained_on} stream, evaluated on {self.stream}"]
        return {"command": command, "title": title, "wall_time_s": wall_time, "encoder": encoder, "data": data,
                **transfer_record(encoder, data), "stream": self.stream, "knobs": dict(knobs),
                "headline": dict(headline), "notes": notes, **results}


def open_session(options: SessionOptions, progress: Callable | None = None) -> Session:
    """The :class:`Session` of ``options`` (see the module docstring); ``progress(phase, done,
    total)`` sees the BatchNorm statistics pass of a random encoder."""
    if options.model_config is not None and options.checkpoint != RANDOM:
        raise SessionError("--model-config only applies to --checkpoint random")
    dataset = open_dataset(options.data)
    device = select_device(options.device)
    model_cfg = load_recipe(options.model_config)["model"] if options.model_config is not None else None
    encoder, info = load_encoder(options.checkpoint, device, seed=options.seed, model_cfg=model_cfg)
    available = dataset.benchmarks
    benchmark = options.benchmark or (info.get("benchmark") if info.get("benchmark") in available else None)
    if benchmark is None:
        raise SessionError(f"pass --benchmark (the dataset has {', '.join(available)})")
    if benchmark not in available:
        raise SessionError(f"{options.data}: no benchmark {benchmark!r} (has {', '.join(available)})")
    rows = require_split(dataset, benchmark, "train")
    require_split(dataset, benchmark, "test")
    stream = options.stream or info.get("stream") or "joint"
    if options.checkpoint == RANDOM and options.bn_calibration:
        batches = h5_batches(dataset.h5_path, rows, device, progress=progress, phase="BatchNorm statistics: train")
        calibrate_batchnorm(encoder, batches, stream, device)
        info["bn_statistics"] = f"estimated on the {benchmark} training split ({rows.size} samples, {stream})"
        info["name"] += " + BN stats"
    return Session(dataset, benchmark, encoder, info, stream, device)
