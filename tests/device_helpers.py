"""Shared helpers of the device tests (``tests/test_cuda.py``, marker ``cuda``).

``TARGET`` is the device the tests compare with the CPU: ``cuda`` unless ``ACTCLR_TEST_DEVICE``
names another (``ACTCLR_TEST_DEVICE=cpu`` runs the same comparisons CPU against CPU, which checks
the tests themselves on a machine without a GPU); ``CUDA_MISSING`` is the reason they are
skipped when the target is CUDA and CUDA is not available.

:class:`cpu_draws` makes a device run draw exactly the numbers of a CPU run: a generator on CUDA
draws other numbers than one on the CPU with the same seed, so every random draw that names a
CPU generator is made on the CPU and moved to the device it asked for.
"""
from __future__ import annotations

import os

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

TARGET = torch.device(os.environ.get("ACTCLR_TEST_DEVICE", "cuda"))
if TARGET.type == "cuda" and TARGET.index is None:
    TARGET = torch.device("cuda", 0)  # an indexed device, as the trainer's (DDP and NCCL need one)
CUDA_MISSING = (f"CUDA is not available (torch {torch.__version__}, CUDA build "
                f"{torch.version.cuda or 'none'}); run scripts/gpu-check.sh on a CUDA machine "
                "(docs/gpu.md)")
#: The random factories of torch that take ``generator=`` (all the library's draws use these).
RANDOM_FACTORIES = frozenset({torch.rand, torch.randn, torch.randint, torch.randperm})


def target_available() -> bool:
    """Whether the tests can run on ``TARGET``."""
    return TARGET.type != "cuda" or torch.cuda.is_available()


class cpu_draws(TorchFunctionMode):
    """Within this context, ``torch.rand/randn/randint/randperm(..., generator=g, device=d)``
    with ``g`` a CPU generator and ``d`` another device draw on the CPU and move the result to
    ``d``: a device run fed a CPU generator then sees the CPU run's numbers."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        generator, device = kwargs.get("generator"), kwargs.get("device")
        if (func in RANDOM_FACTORIES and generator is not None and device is not None
                and generator.device.type == "cpu" and torch.device(device).type != "cpu"):
            kwargs["device"] = "cpu"
            return func(*args, **kwargs).to(device)
        return func(*args, **kwargs)


def relative_error(actual: Tensor, expected: Tensor) -> float:
    """``max |actual - expected| / max |expected|`` (on the CPU, in float64)."""
    actual, expected = actual.detach().cpu().double(), expected.detach().cpu().double()
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30))
