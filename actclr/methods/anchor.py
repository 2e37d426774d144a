"""The static anchor of the actionlet (paper Eq. 2): the average motion.

``DatasetAnchor`` (paper, default) holds the prepared dataset's average motion of the training
split (``PreparedDataset.average_motion(benchmark)``), converted to the trained stream. The stream
maps (motion = frame difference, bone = joint minus parent) are linear, so the stream of the mean
equals the mean of the streams. ``BatchAnchor`` (official code) is the mean of the current key
batch, already in the trained stream.

An anchor is called with the key view ``(N, C, T, V, M)`` and returns ``(1, C, T, V, M)``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from actclr.augment import to_stream

ANCHORS = ("dataset", "batch")


class DatasetAnchor(nn.Module):
    """Fixed anchor from the dataset's average motion ``(3, T, V, M)`` (joint positions).

    The converted anchor is a buffer, so it follows ``.to(device)`` and is saved in checkpoints.
    """

    motion: Tensor

    def __init__(self, average_motion: Tensor, stream: str = "joint") -> None:
        super().__init__()
        motion = torch.as_tensor(average_motion, dtype=torch.float32)
        if motion.ndim != 4 or motion.shape[0] != 3:
            raise ValueError(f"average motion must be (3, T, V, M), got {tuple(motion.shape)}")
        self.register_buffer("motion", to_stream(motion.unsqueeze(0), stream))

    def forward(self, key_view: Tensor) -> Tensor:
        if key_view.shape[1:] != self.motion.shape[1:]:
            raise ValueError(f"average motion {tuple(self.motion.shape[1:])} does not match the "
                             f"training sequences {tuple(key_view.shape[1:])} (C, T, V, M): prepare "
                             "the dataset with the same profile/frame count")
        return self.motion.to(key_view.dtype)


class BatchAnchor(nn.Module):
    """Official anchor: the mean over the batch of the (local, per-rank) key view."""

    def forward(self, key_view: Tensor) -> Tensor:
        return key_view.mean(dim=0, keepdim=True)


def build_anchor(kind: str, average_motion: Tensor | None, stream: str) -> nn.Module:
    """``dataset`` (needs ``average_motion (3, T, V, M)``) or ``batch``."""
    if kind == "batch":
        return BatchAnchor()
    if kind != "dataset":
        raise ValueError(f"unknown anchor {kind!r}; choose one of {', '.join(ANCHORS)}")
    if average_motion is None:
        raise ValueError("anchor 'dataset' needs the prepared dataset's average motion "
                         "(PreparedDataset.average_motion(benchmark)); pass average_motion= "
                         "or set the method option anchor: batch")
    return DatasetAnchor(average_motion, stream)
