"""Shared pieces of the evaluation tests: a narrow encoder and single-threaded torch."""
from __future__ import annotations

import pytest
import torch
import yaml

#: A narrow encoder: the commands' plumbing does not depend on the width, and it is much faster.
#: (hidden_channels 4 crashes oneDNN's convolution backward in torch 2.13 CPU: heap corruption.)
TINY = {"hidden_channels": 8, "out_channels": 16, "projector": {"hidden_dim": 16, "out_dim": 8}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A recipe file whose model section is :data:`TINY` (for ``--model-config``)."""
    path = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    path.write_text(yaml.safe_dump({"model": TINY}))
    return str(path)


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Small tensors: one intra-op thread avoids thread-pool stalls on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
