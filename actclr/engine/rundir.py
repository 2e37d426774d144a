"""The run directory: effective configuration, environment record and layout checks.

``RUN/config.yaml`` is the effective configuration (defaults + recipe + options + overrides);
``RUN/env.json`` records versions, host, git commit, world size, device, effective batch, seed
and the dataset's fingerprint and profile, so a run can be traced and repeated.
"""
from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import actclr
from actclr.engine.checkpoint import last_path
from actclr.engine.dist import DistEnv
from actclr.store.atomic import write_json


class RunDirError(RuntimeError):
    """The output directory cannot be used as asked (names the directory and the fix)."""


def check_run_dir(run_dir: Path, resume: bool) -> bool:
    """Whether to resume from ``RUN/checkpoints/last.pt``.

    A directory that already holds a checkpoint is only continued with ``resume``; ``resume``
    on a directory without one starts a new run (so a preemptible job can always pass it).
    """
    has_checkpoint = last_path(run_dir).is_file()
    if has_checkpoint and not resume:
        raise RunDirError(f"{run_dir} already holds a run ({last_path(run_dir)}); pass --resume to "
                          "continue it or choose another --out")
    return has_checkpoint and resume


def git_commit(path: Path | None = None) -> str | None:
    """``HEAD`` of the git checkout that holds actclr (``+dirty`` if modified), else ``None``."""
    where = path or Path(actclr.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def device_record(device: torch.device) -> dict:
    """``device`` (type), ``device_name`` (GPU model or CPU) and the ``cuda``/``cudnn`` versions
    in use (None off CUDA), as the run directory and the benchmarks record them."""
    cuda = device.type == "cuda"
    return {"device": device.type,
            "device_name": torch.cuda.get_device_name(device) if cuda else platform.processor() or None,
            "cuda": torch.version.cuda if cuda else None,
            "cudnn": torch.backends.cudnn.version() if cuda else None}


def environment_record(env: DistEnv, cfg: Mapping, dataset_info: Mapping) -> dict:
    """What ``RUN/env.json`` holds."""
    device = device_record(env.device)
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "actclr": actclr.__version__,
                     "cuda": device["cuda"], "cudnn": device["cudnn"]},
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "command": sys.argv,
        "world_size": env.world_size,
        "device": device["device"],
        "device_name": device["device_name"],
        "batch_size_per_device": cfg["data"]["batch_size"],
        "effective_batch_size": cfg["data"]["batch_size"] * env.world_size,
        "seed": cfg["train"]["seed"],
        "rank_seeds": [cfg["train"]["seed"] + rank for rank in range(env.world_size)],
        "dataset": {"name": dataset_info.get("name"), "fingerprint": dataset_info.get("fingerprint"),
                    "profile": dataset_info.get("profile"), "benchmark": cfg["data"]["benchmark"],
                    "counts": dataset_info.get("counts", {}).get(cfg["data"]["benchmark"])},
    }


def write_environment(run_dir: Path, record: Mapping, resumed: bool = False) -> None:
    """Atomically write ``RUN/env.json``; a resumed run appends its record under ``resumed``."""
    path = run_dir / "env.json"
    if resumed and path.is_file():
        first = json.loads(path.read_text())
        record = {**first, "resumed": first.get("resumed", []) + [dict(record)]}
    write_json(path, dict(record))
