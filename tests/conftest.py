"""Shared fixtures.

``synth_dataset``: a tiny prepared NTU-60-format dataset made by the real pipeline (synthetic raw
``.skeleton`` files from ``actclr.synth``, then ``actclr-data prepare``): 10 classes x 12 samples,
built once per test session (a few seconds). Its x-view training split has two shards (DDP tests).

``one_torch_thread``: torch on one thread for a test module (training tests on a shared CPU run
several times faster without OpenMP oversubscription).

``tiny``: a recipe file whose model section is ``eval_helpers.TINY`` (for ``--model-config``).
"""
from __future__ import annotations

import pytest
import yaml
from eval_helpers import TINY


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory):
    """Path of the prepared synthetic dataset (read-only: copy it before modifying)."""
    from actclr.pipelines.prepare import PrepareOptions, prepare_dataset
    from actclr.synth import generate

    root = tmp_path_factory.mktemp("synth")
    generate(root / "raw", "ntu60", classes=10, per_class=12, seed=0)
    result = prepare_dataset(PrepareOptions("ntu60", (root / "raw",), root / "prepared"))
    return result.out


@pytest.fixture(scope="module")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A recipe file whose model section is :data:`eval_helpers.TINY` (for ``--model-config``)."""
    path = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    path.write_text(yaml.safe_dump({"model": TINY}))
    return str(path)
