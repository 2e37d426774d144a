"""Pictures: skeleton strips, the average motion and actionlet highlights (matplotlib, Agg)."""
from actclr.viz.figure import new_figure, save_png
from actclr.viz.sequences import draw_average_motion, draw_skeleton_strip

__all__ = ["draw_average_motion", "draw_skeleton_strip", "new_figure", "save_png"]
