"""Seed spread of a sweep: one panel per metric, one column per arm, one point per seed."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from actclr.viz.figure import new_figure, save_png


def seeds_figure(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """Rows of :func:`actclr.sweep.summary.collect` (``arm``, ``metric``, ``seeds``: seed -> value,
    ``mean``, ``std``): each seed's value as a labelled point, the mean as a bar with +-1 std.
    Raises ``ValueError`` without any value."""
    if not any(row["seeds"] for row in rows):
        raise ValueError("no seed has a value to draw")
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    fig = new_figure(len(metrics) * max(2.6, 0.9 * len(arms) + 1.2), 3.4)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for x, arm in enumerate(arms):
            row = next((r for r in rows if r["arm"] == arm and r["metric"] == metric), None)
            if row is None or not row["seeds"]:
                continue
            seeds = list(row["seeds"])
            offsets = [0.0] if len(seeds) == 1 else [0.5 * (i / (len(seeds) - 1) - 0.5) for i in range(len(seeds))]
            xs = [x + dx for dx in offsets]
            ys = [row["seeds"][s] for s in seeds]
            ax.scatter(xs, ys, s=18, zorder=3, label="seed" if x == 0 else None)
            for px, py, seed in zip(xs, ys, seeds):
                ax.annotate(str(seed), (px, py), textcoords="offset points", xytext=(3, 3), fontsize=6)
            ax.errorbar([x], [row["mean"]], yerr=None if row["std"] is None else [row["std"]], fmt="_",
                        color="black", markersize=22, capsize=4, zorder=4, label="mean +- std" if x == 0 else None)
        ax.set_xticks(range(len(arms)), arms, fontsize=8, rotation=20 if len(arms) > 3 else 0)
        ax.set_xlim(-0.6, len(arms) - 0.4)
        ax.set_title(metric, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_seeds(rows: Sequence[Mapping], path: str | os.PathLike, title: str | None = None) -> Path:
    """Save :func:`seeds_figure` as PNG (atomically); returns ``path``."""
    return save_png(seeds_figure(rows, title), path)
