"""Capture and restore every random-number state a training run consumes.

States are stored as tensors, ints and lists only, so checkpoints load with
``torch.load(weights_only=True)``: python's Mersenne Twister and numpy's legacy global state as
int64 tensors, torch CPU/CUDA states and ``torch.Generator`` states as their uint8 tensors.
"""
from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture(generators: Mapping[str, torch.Generator] | None = None) -> dict:
    """Every global RNG state plus the named generators' states."""
    version, mt, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=True)
    assert isinstance(numpy_state, tuple)  # the legacy form of the global MT19937 state
    name, keys, pos, has_gauss, cached = numpy_state
    state = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {key: g.get_state() for key, g in (generators or {}).items()},
    }
    return state


def restore(state: Mapping, generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Undo :func:`capture`: set the global states and the named generators' states."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        if len(state["cuda"]) != torch.cuda.device_count():
            raise RuntimeError(f"checkpoint holds {len(state['cuda'])} CUDA RNG states but "
                               f"{torch.cuda.device_count()} devices are visible")
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state["generators"]
    for key, g in (generators or {}).items():
        if key not in saved:
            raise KeyError(f"checkpoint has no state for generator {key!r} (has {sorted(saved)})")
        g.set_state(saved[key])
