"""Frozen-encoder features of un-augmented sequences (shared by linear, kNN and segmentation).

The encoder runs in eval mode (BatchNorm running statistics, no dropout) without gradients; the
input is the prepared ``ready`` tensor (joint positions) converted to the encoder's stream.
``feature`` picks what is returned: ``backbone`` (default), the 256-d globally pooled ST-GCN
feature the official linear protocol classifies, or ``embed``, the 128-d projector output the
official kNN monitor uses. ``region`` (a :class:`Region`, paper Fig. 3) pools the feature map over
the actionlet or the non-actionlet cells instead of globally.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from actclr.augment.inputs import to_stream
from actclr.constants import FEATURES, REGIONS, STREAMS
from actclr.data import H5Samples, make_loader, to_device
from actclr.methods.actionlet import actionlet_mask
from actclr.methods.anchor import DatasetAnchor
from actclr.methods.safp import safp_pool
from actclr.models.encoder import Encoder
from actclr.models.modes import eval_mode


def region_features(encoder: Encoder, xs: Tensor, anchor: DatasetAnchor, region: str) -> Tensor:
    """Backbone features ``(N, C)`` of stream tensors ``xs (N, C, T, V, M)`` pooled over one region
    (current mode, no grad): ``whole`` is global average pooling, ``actionlet`` the mean over the
    actionlet cells (SAFP, Eq. 8, with the paper's mask, as ``actclr-train actionlet``),
    ``non_actionlet`` over the other cells (mask ``1 - A``). A sample without non-actionlet cells
    pools to zero there."""
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    fmap = encoder.feature_map(xs)
    if region == "whole":
        return encoder.pool(fmap)
    assert encoder.projector is not None, "actionlets need an encoder with a projector"
    with torch.no_grad():
        mask = actionlet_mask(fmap, encoder.projector, encoder.embed(anchor(xs))[0])  # paper defaults
    return safp_pool(fmap, mask if region == "actionlet" else 1.0 - mask)


@dataclass(frozen=True)
class Region:
    """Pool over ``name`` (``actionlet`` or ``non_actionlet``, :data:`REGIONS`) with actionlets
    against ``anchor`` (the training split's average motion in the encoder's stream)."""

    name: str
    anchor: DatasetAnchor

    @classmethod
    def of(cls, name: str, dataset, benchmark: str, stream: str, device: torch.device) -> Region | None:
        """The region ``name`` of ``dataset``'s benchmark; ``None`` for ``whole`` (plain pooling)."""
        if name not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {name!r}")
        if name == "whole":
            return None
        motion = torch.as_tensor(dataset.average_motion(benchmark))
        return cls(name, DatasetAnchor(motion, stream).to(device))

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: ``done`` of ``total`` units of ``phase`` (e.g. sequences read);
the shape of ``actclr.pipelines.prepare.Reporter.progress``, so one console display serves both."""


def encode(encoder: Encoder, x: Tensor, stream: str, feature: str = "backbone",
           region: Region | None = None) -> Tensor:
    """Features ``(N, D)`` float32 of joint positions ``x (N, 3, T, V, M)`` (current mode, caller's
    grad; with a ``region`` no grad)."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    if feature not in FEATURES:
        raise ValueError(f"feature must be one of {', '.join(FEATURES)}, got {feature!r}")
    x = to_stream(x, stream)
    if region is None:
        return (encoder.embed(x) if feature == "embed" else encoder(x)).float()
    pooled = region_features(encoder, x, region.anchor, region.name)
    return (encoder.project(pooled) if feature == "embed" else pooled).float()


@torch.no_grad()
def encode_batches(encoder: Encoder, batches: Iterable[Tensor], stream: str, device: torch.device,
                   feature: str = "backbone", region: Region | None = None) -> Tensor:
    """Concatenated eval-mode features ``(N, D)`` (on the CPU) of batches ``(n, 3, T, V, M)``."""
    out = []
    with eval_mode(encoder):
        for x in batches:
            out.append(encode(encoder, to_device(x, device), stream, feature, region).cpu())
    if not out:
        raise ValueError("no sequences to encode")
    return torch.cat(out)


def h5_batches(h5_path: str | os.PathLike, rows: Sequence[int] | np.ndarray, device: torch.device,
               batch_size: int = 256, workers: int = 0, keys: list | None = None, progress: Progress | None = None,
               phase: str = "sequences") -> Iterator[Tensor]:
    """Joint positions ``(n, 3, T, V, M)`` of ``skeletons.h5`` rows in ``rows`` order (keys appended
    to ``keys`` if given; ``progress(phase, sequences read, len(rows))`` after each batch). Labels
    travel with the loaded batches but are dropped here: evaluation reads labels only through
    :func:`actclr.eval.holdout.labels_of`."""
    loader = make_loader(H5Samples(h5_path, rows), device, batch_size=batch_size, num_workers=workers)
    done = 0
    for batch in loader:
        if keys is not None:
            keys.extend(batch.keys)
        done += len(batch.keys)
        if progress is not None:
            progress(phase, done, len(rows))
        yield batch.x


def extract_features(encoder: Encoder, h5_path: str | os.PathLike, rows: Sequence[int] | np.ndarray, *, stream: str,
                     device: torch.device, feature: str = "backbone", batch_size: int = 256,
                     workers: int = 0, progress: Progress | None = None,
                     phase: str = "features", region: Region | None = None) -> tuple[Tensor, list]:
    """``(features (N, D) float32 on the CPU, keys)`` of ``skeletons.h5`` rows, in ``rows`` order
    (``progress`` as in :func:`h5_batches`; ``region`` as in :func:`encode`)."""
    keys: list = []
    batches = h5_batches(h5_path, rows, device, batch_size, workers, keys, progress, phase)
    return encode_batches(encoder, batches, stream, device, feature, region), keys


@torch.no_grad()
def calibrate_batchnorm(encoder: Encoder, batches: Iterable[Tensor], stream: str, device: torch.device) -> int:
    """Re-estimate every BatchNorm's running statistics on ``batches`` (un-augmented joint
    positions); returns the number of BatchNorm layers.

    The statistics become the plain average over the batches (``momentum=None``); only BatchNorm
    runs in train mode (dropout stays off) and no weight changes. An untrained encoder needs
    this: its running statistics are the initial mean 0 / variance 1, so in eval mode nothing
    normalises its activations, which shrink layer after layer under the N(0, 0.02)
    initialisation (pooled features ~1e-6), and a linear probe on them measures the scale, not
    the representation.
    """
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    with eval_mode(encoder):
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        try:
            for x in batches:
                encoder(to_stream(to_device(x, device), stream))
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
    return len(norms)
