"""Pictures of skeleton sequences: a strip of frames, the average motion, actionlet highlights.

Samples are accepted in the model layout ``(3, T, 25, M)`` or the raw layout ``(T, M, 25, 3)``
(``M <= 2``). Joints can carry weights ``(T, 25)`` (shared by the bodies) or ``(T, 25, M)``, e.g.
an actionlet mask: joints are then coloured and sized by weight, like Fig. 5 of the ActCLR paper.
Two coordinates are drawn (``plane``, default ``"xy"``: x to the right, y up); an all-zero body in
a frame is absent and not drawn.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize

from actclr.skeleton import EDGES, NUM_COORDS, NUM_JOINTS
from actclr.viz.figure import new_figure, save_png

BODY_COLORS = ("tab:blue", "tab:orange")
WEIGHT_CMAP = "YlOrRd"
PANEL_INCHES = 1.8
BONES = np.array(EDGES)  # (24, 2) joint pairs


def as_sequence(sample: np.ndarray) -> np.ndarray:
    """``(3, T, 25, M)`` or ``(T, M, 25, 3)`` -> float ``(T, M, 25, 3)``."""
    x = np.asarray(sample, dtype=np.float64)
    if x.ndim == 4 and x.shape[0] == NUM_COORDS and x.shape[2] == NUM_JOINTS and x.shape[3] != NUM_COORDS:
        return x.transpose(1, 3, 2, 0)
    if x.ndim == 4 and x.shape[2:] == (NUM_JOINTS, NUM_COORDS):
        return x
    raise ValueError(f"expected a sample (3, T, 25, M) or (T, M, 25, 3), got shape {x.shape}")


def pick_frames(seq: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` evenly spaced indices of the frames of ``seq (T, M, 25, 3)`` with a body."""
    shown = np.flatnonzero(np.any(seq != 0, axis=(1, 2, 3)))
    if shown.size == 0:
        raise ValueError("nothing to draw: every frame is empty")
    return np.unique(shown[np.linspace(0, shown.size - 1, min(count, shown.size)).round().astype(int)])


def _plane_axes(plane: str) -> tuple[int, int]:
    if len(plane) != 2 or plane[0] == plane[1] or not set(plane) <= set("xyz"):
        raise ValueError(f"plane must name two of x, y, z (e.g. 'xy'), got {plane!r}")
    return "xyz".index(plane[0]), "xyz".index(plane[1])


def _joint_weights(weights, seq: np.ndarray) -> np.ndarray | None:
    """``(T, 25)`` or ``(T, 25, M)`` weights -> ``(T, M, 25)``; ``None`` stays ``None``."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    frames, bodies = seq.shape[:2]
    if w.shape == (frames, NUM_JOINTS):
        w = np.repeat(w[:, None], bodies, axis=1)
    elif w.shape == (frames, NUM_JOINTS, bodies):
        w = w.transpose(0, 2, 1)
    else:
        raise ValueError(f"weights must be ({frames}, 25) or ({frames}, 25, {bodies}), got {w.shape}")
    return w


def _limits(points: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Square axis limits, shared by all panels, around ``points (n, 2)`` with a 10 % margin."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    half = max(float((hi - lo).max()) * 0.55, 1e-3)
    mid = (lo + hi) / 2
    return (mid[0] - half, mid[0] + half), (mid[1] - half, mid[1] + half)


def _draw_pose(ax, pose, axes, weights=None, norm=None, alpha=1.0) -> None:
    """Bones and joints of ``pose (M, 25, 3)`` on ``ax``; ``weights (M, 25)`` colour the joints."""
    a, b = axes
    for m, body in enumerate(pose):
        if not body.any():
            continue
        color = "0.6" if weights is not None else BODY_COLORS[m % len(BODY_COLORS)]
        ax.add_collection(LineCollection(body[BONES][:, :, [a, b]], colors=color, linewidths=1.5,
                                         alpha=alpha, zorder=1))
        if weights is None:
            ax.scatter(body[:, a], body[:, b], s=8, color=color, alpha=alpha, zorder=2)
        else:
            ax.scatter(body[:, a], body[:, b], c=weights[m], cmap=WEIGHT_CMAP, norm=norm,
                       s=6 + 60 * norm(weights[m]).clip(0, 1), edgecolors="0.3", linewidths=0.3, zorder=2)


def _render(seq, indices, path, *, weights, title, plane, overlay) -> Path:
    """Draw one panel per frame index (plus an all-frames overlay panel) and save the PNG."""
    axes = _plane_axes(plane)
    panels = len(indices) + int(overlay)
    fig = new_figure(PANEL_INCHES * panels + (0.6 if weights is not None else 0), PANEL_INCHES + 0.5)
    present = np.any(seq != 0, axis=-1)  # (T, M, 25)
    xlim, ylim = _limits(seq[present][:, list(axes)])
    norm = None
    if weights is not None:
        norm = Normalize(min(0.0, float(weights.min())), max(1.0, float(weights.max())))
    grid = fig.subplots(1, panels, squeeze=False)[0]
    for ax, t in zip(grid, indices):
        _draw_pose(ax, seq[t], axes, None if weights is None else weights[t], norm)
        ax.set_title(f"t = {t}", fontsize=8)
    if overlay:
        for t in np.flatnonzero(present.any(axis=(1, 2))):
            _draw_pose(grid[-1], seq[t], axes, alpha=0.15)
        grid[-1].set_title("all frames", fontsize=8)
    for ax in grid:
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    if weights is not None:
        fig.colorbar(ScalarMappable(norm, WEIGHT_CMAP), ax=list(grid), fraction=0.02, pad=0.01,
                     label="weight")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_png(fig, path)


def draw_skeleton_strip(sample: np.ndarray, path: str | os.PathLike, *, num_frames: int = 8,
                        weights: np.ndarray | None = None, title: str | None = None,
                        plane: str = "xy") -> Path:
    """Save a PNG strip of ``num_frames`` evenly spaced frames of one sample; return its path.

    ``sample``: ``(3, T, 25, M)`` or ``(T, M, 25, 3)``; ``weights``: optional ``(T, 25)`` or
    ``(T, 25, M)`` joint weights (e.g. an actionlet), shown as joint colour and size.
    """
    seq = as_sequence(sample)
    return _render(seq, pick_frames(seq, num_frames), path, weights=_joint_weights(weights, seq),
                   title=title, plane=plane, overlay=False)


def draw_average_motion(mean: np.ndarray, path: str | os.PathLike, *, num_frames: int = 8,
                        title: str | None = "Average motion", plane: str = "xy") -> Path:
    """Save the average motion ``(3, T, 25, M)`` (paper Eq. 2) as a frame strip plus a panel
    overlaying all frames, which shows how little the average skeleton moves; return the path."""
    seq = as_sequence(mean)
    return _render(seq, pick_frames(seq, num_frames), path, weights=None, title=title, plane=plane,
                   overlay=True)
