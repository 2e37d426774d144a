"""Frozen-encoder features of un-augmented sequences (shared by linear, kNN and segmentation).

The encoder runs in eval mode (BatchNorm running statistics, no dropout) without gradients; the
input is the prepared ``ready`` tensor (joint positions) converted to the encoder's stream.
``feature`` picks what is returned: ``backbone`` (default), the 256-d globally pooled ST-GCN
feature the official linear protocol classifies, or ``embed``, the 128-d projector output the
official kNN monitor uses.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from actclr.augment.streams import STREAMS, to_stream
from actclr.data import H5Samples, make_loader, to_device
from actclr.methods.moco import eval_mode

FEATURES = ("backbone", "embed")


def encode(encoder: nn.Module, x: Tensor, stream: str, feature: str = "backbone") -> Tensor:
    """Features ``(N, D)`` float32 of joint positions ``x (N, 3, T, V, M)`` (current mode, caller's grad)."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    if feature not in FEATURES:
        raise ValueError(f"feature must be one of {', '.join(FEATURES)}, got {feature!r}")
    x = to_stream(x, stream)
    return (encoder.embed(x) if feature == "embed" else encoder(x)).float()


@torch.no_grad()
def encode_batches(encoder: nn.Module, batches: Iterable[Tensor], stream: str, device: torch.device,
                   feature: str = "backbone") -> Tensor:
    """Concatenated eval-mode features ``(N, D)`` (on the CPU) of batches ``(n, 3, T, V, M)``."""
    out = []
    with eval_mode(encoder):
        for x in batches:
            out.append(encode(encoder, to_device(x, device), stream, feature).cpu())
    if not out:
        raise ValueError("no sequences to encode")
    return torch.cat(out)


def extract_features(encoder: nn.Module, h5_path: str | os.PathLike, rows: Sequence[int], *, stream: str,
                     device: torch.device, feature: str = "backbone", batch_size: int = 256,
                     workers: int = 0) -> tuple[Tensor, list]:
    """``(features (N, D) float32 on the CPU, keys)`` of ``skeletons.h5`` rows, in ``rows`` order.

    Labels travel with the loaded batches but are dropped here: evaluation reads labels only
    through :func:`actclr.eval.holdout.labels_of`.
    """
    samples = H5Samples(h5_path, rows)
    loader = make_loader(samples, device, batch_size=batch_size, num_workers=workers, shuffle=False)
    keys: list = []

    def tensors():
        for batch in loader:
            keys.extend(batch.keys)
            yield batch.x

    feats = encode_batches(encoder, tensors(), stream, device, feature)
    return feats, keys
