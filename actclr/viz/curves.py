"""Training curves of pretraining runs (``metrics.jsonl`` rows): loss, kNN monitor accuracy and the
collapse diagnostic ``key_cosine``."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from actclr.viz.figure import new_figure, save_png


def draw_training_curves(runs: Mapping[str, Sequence[Mapping]], path: str | os.PathLike) -> Path:
    """Save one PNG with the loss, every ``knn_top1@k`` and, when logged, ``key_cosine`` (a third
    panel) per epoch of each run.

    ``runs`` maps a run name to its epoch rows (dicts with ``epoch`` and ``loss``, optionally
    ``knn_top1@k``, ``key_cosine`` and ``phase``; a change of phase is marked). Raises
    ``ValueError`` when no row has a loss.
    """
    if not any("loss" in row for rows in runs.values() for row in rows):
        raise ValueError("no epoch row with a loss to draw")
    with_cosine = any("key_cosine" in row for rows in runs.values() for row in rows)
    fig = new_figure(13.0 if with_cosine else 9.0, 3.4)
    loss_ax, knn_ax, *cosine_ax = fig.subplots(1, 3 if with_cosine else 2)
    for name, rows in runs.items():
        rows = [r for r in rows if "epoch" in r]
        with_loss = [r for r in rows if "loss" in r]
        line, = loss_ax.plot([r["epoch"] for r in with_loss], [r["loss"] for r in with_loss], label=name)
        for before, after in zip(rows, rows[1:]):  # phase boundaries (e.g. warm-up -> main method)
            if before.get("phase") != after.get("phase"):
                loss_ax.axvline(before["epoch"] + 0.5, color=line.get_color(), linestyle=":", linewidth=1)
                loss_ax.annotate(str(after.get("phase")), (before["epoch"] + 0.5, 1.0),
                                 xycoords=("data", "axes fraction"), fontsize=7, va="top")
        columns = sorted({k for r in rows for k in r if k.startswith("knn_top1@")},
                         key=lambda k: int(k.split("@")[1]))
        for column in columns:
            points = [(r["epoch"], r[column]) for r in rows if column in r]
            knn_ax.plot(*zip(*points), marker="o", markersize=3, label=f"{name} k={column.split('@')[1]}")
        for ax in cosine_ax:
            points = [(r["epoch"], r["key_cosine"]) for r in rows if "key_cosine" in r]
            if points:
                ax.plot(*zip(*points), label=name)
    loss_ax.set(title="pretraining loss", xlabel="epoch", ylabel="loss")
    knn_ax.set(title="kNN monitor (held-out training samples)", xlabel="epoch", ylabel="top-1 (%)")
    for ax in cosine_ax:
        ax.set(title="key cosine (1 = collapsed)", xlabel="epoch", ylabel="mean pairwise cosine")
    for ax in (loss_ax, knn_ax, *cosine_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_png(fig, path)


def draw_comparison(rows: Sequence[Mapping], columns: Sequence[str], label_column: str,
                    path: str | os.PathLike, title: str | None = None) -> Path:
    """Save a grouped bar chart: one group per column of ``columns`` (numbers), one bar per row,
    bars labelled with ``row[label_column]``. Missing cells are left out."""
    columns = [c for c in columns if any(isinstance(r.get(c), (int, float)) for r in rows)]
    if not columns or not rows:
        raise ValueError("nothing to compare: no numeric column")
    fig = new_figure(max(4.0, 1.6 * len(columns) + 2), 3.2)
    ax = fig.subplots()
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        xs = [k + i * width for k, c in enumerate(columns) if isinstance(row.get(c), (int, float))]
        ys = [row[c] for c in columns if isinstance(row.get(c), (int, float))]
        bars = ax.bar(xs, ys, width=width, label=str(row.get(label_column)))
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(columns))], columns, fontsize=8)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return save_png(fig, path)
