"""Shared pieces of the evaluation tests: a narrow encoder recipe."""
from __future__ import annotations

import pytest
import yaml

#: A narrow encoder: the commands' plumbing does not depend on the width, and it is much faster.
TINY = {"hidden_channels": 8, "out_channels": 16, "projector": {"hidden_dim": 16, "out_dim": 8}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A recipe file whose model section is :data:`TINY` (for ``--model-config``)."""
    path = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    path.write_text(yaml.safe_dump({"model": TINY}))
    return str(path)

