"""Sweeps: named arms (recipe + overrides) x seeds, each pretrained and evaluated by the
``actclr-train`` commands in their own processes, summarised per arm and metric.

``plan`` reads the sweep file and plans the runs, ``run`` executes them (resumable, in
parallel), ``summary`` writes the table, JSON and plot.
"""
