"""Shared pieces of the evaluation tests: a narrow encoder (the ``tiny`` fixture in conftest.py
writes it as a recipe file)."""
from __future__ import annotations

#: A narrow encoder: the commands' plumbing does not depend on the width, and it is much faster.
TINY = {"hidden_channels": 8, "out_channels": 16, "projector": {"hidden_dim": 16, "out_dim": 8}}

