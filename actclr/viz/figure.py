"""Matplotlib figures on the Agg canvas (no pyplot, no global backend) and their atomic saving."""
from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from actclr.store.atomic import atomic_path


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches attached to an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to a temporary sibling, rename it to ``path``; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
