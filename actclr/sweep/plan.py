"""Sweep files (YAML): named arms x seeds -> the planned runs and their ``actclr-train`` commands.

The format (documented in ``docs/sweeps.md``; this module is its one reader)::

    data: runs/demo/data          # optional (``--data`` wins); relative to the current directory
    benchmark: xsub               # optional; default: each recipe's
    seeds: [0, 1, 2]              # or a count: 3 means [0, 1, 2]
    set: [model.hidden_channels=8]  # optional, --set overrides of every arm (before the arm's own)
    evaluations:                  # evaluation commands run after each pretraining, in order
      linear: {epochs: 100, batch-size: 16, lr: 0.1, val-fraction: 0}
      knn: {k: [1, 5, 10], primary-k: 5}
      knn-embed: {command: knn, feature: embed}   # a second instance under its own name
    arms:                         # name -> recipe and its --set overrides
      actclr: {recipe: mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo}
      mocov2: {recipe: ..., set: [warmup.epochs=0, ...]}
    grid:                         # optional: every arm x every combination of levels
      lr: {lr0.01: [optim.lr=0.01], lr0.05: [optim.lr=0.05]}
    reference: actclr             # optional: the summary also gives every arm minus this one, per seed

Every run ``(arm, seed)`` lives in ``OUT/<arm>/seed-<seed>/``: ``pretrain/`` (the pretraining
run), ``eval/<evaluation>/`` (each evaluation's ``--out``), ``logs/<step>.log`` and ``run.json``.

Runs whose configurations agree on everything their warm-up phase reads (same data, seed and
:func:`actclr.engine.config.warmup_identity`; e.g. ablation arms that change only the ActCLR
phase) share one warm-up: it is trained once into ``WARMUPS/<key>/`` (``pretrain --stop-after``)
and each run resumes from a copy of its checkpoint, which trains what the run alone would.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actclr.engine.config import ConfigError, build_config, parse_override, warmup_identity
from actclr.resources import shipped_yaml

#: Evaluation commands of ``actclr-train`` that take an encoder checkpoint.
EVALUATION_COMMANDS = ("linear", "knn", "finetune", "segment", "actionlet")
#: Options the sweep passes itself: a sweep file may not set them.
PRETRAIN_OWN = ("data", "benchmark", "out", "config", "seed", "resume", "init")
EVALUATION_OWN = ("data", "benchmark", "checkpoint", "out", "seed")
SWEEP_KEYS = ("data", "benchmark", "seeds", "set", "evaluations", "arms", "grid", "reference")
ARM_KEYS = ("recipe", "set")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
PRETRAIN = "pretrain"
WARMUP = "warmup"
ENCODER = "encoder.pt"
METRICS = "metrics.json"


class SweepError(ValueError):
    """A sweep file or plan that cannot be run; the message names the file and the entry."""


@dataclass(frozen=True)
class Arm:
    """One named configuration: a recipe and its ``--set`` overrides (common ones first)."""

    name: str
    recipe: str
    overrides: tuple


@dataclass(frozen=True)
class Evaluation:
    """An evaluation command with its options as command-line arguments."""

    name: str  # directory name under eval/, and the metric prefix when it is not the command
    command: str
    args: tuple


@dataclass(frozen=True)
class Sweep:
    path: Path
    data: str | None
    benchmark: str | None
    seeds: tuple
    arms: tuple
    evaluations: tuple
    reference: str | None = None  # the arm the summary pairs every other arm with, seed by seed


@dataclass(frozen=True)
class Step:
    """One ``actclr-train`` command of a run. ``settings`` is what the run record compares."""

    name: str  # "pretrain" or the evaluation's name
    argv: tuple  # arguments after ``actclr-train``
    out: Path
    result: Path  # exists once the step has finished (written last, atomically)
    settings: dict


@dataclass(frozen=True)
class Warmup:
    """A warm-up phase shared by the runs that agree on it, trained once in ``dir``."""

    key: str  # sha256 of the data and the warm-up identity; its first 16 digits name ``dir``
    epochs: int
    dir: Path
    step: Step  # ``pretrain --stop-after EPOCHS`` into ``dir/pretrain``; result: ``dir/warmup.json``

    @property
    def label(self) -> str:
        return f"warm-up {self.key[:16]}"

    @property
    def log(self) -> Path:
        return self.dir / "logs" / f"{WARMUP}.log"


@dataclass(frozen=True)
class Run:
    arm: str
    seed: int
    dir: Path
    steps: tuple  # pretrain first, then the evaluations
    warmup: Warmup | None = None  # the shared warm-up its pretraining resumes from

    @property
    def label(self) -> str:
        return f"{self.arm} seed {self.seed}"

    def log(self, step: Step) -> Path:
        return self.dir / "logs" / f"{step.name}.log"


def resolve_sweep(name_or_path: str | Path) -> Path:
    """A sweep file given as a path or as the name of a shipped one under ``configs/sweeps/``."""
    try:
        return shipped_yaml(name_or_path, "configs/sweeps")
    except FileNotFoundError:
        raise SweepError(f"sweep {name_or_path!r} is neither a file nor a shipped sweep "
                         f"(configs/sweeps/)") from None


def _mapping(value: Any, where: str, source: Path) -> dict:
    if not isinstance(value, dict):
        raise SweepError(f"{source}: '{where}' must be a mapping, got {type(value).__name__}")
    return value


def _names(mapping: Mapping, where: str, source: Path) -> None:
    for name in mapping:
        if not isinstance(name, str) or not NAME.match(name):
            raise SweepError(f"{source}: {where} name {name!r} must be letters, digits and . _ + - "
                             "(it names a directory)")


def _overrides(value: Any, where: str, source: Path) -> tuple:
    """A list of ``KEY=VALUE`` strings (checked as ``--set`` parses them)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SweepError(f"{source}: '{where}' must be a list of KEY=VALUE strings")
    for text in value:
        try:
            path, _ = parse_override(text)
        except ConfigError as err:
            raise SweepError(f"{source}: '{where}': {err}") from None
        if path == ("train", "seed"):
            raise SweepError(f"{source}: '{where}': train.seed comes from 'seeds', not from set")
    return tuple(value)


def _seeds(value: Any, source: Path) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return tuple(range(value))
    ints = isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    if not ints or not value or len(set(value)) != len(value):
        raise SweepError(f"{source}: 'seeds' must be a count > 0 or a list of distinct integers, got {value!r}")
    return tuple(value)


def option_args(options: Mapping, own: tuple, where: str, source: Path) -> tuple:
    """``{"batch-size": 16, "k": [1, 5], "bn-calibration": False}`` -> ``("--batch-size", "16",
    "--k", "1,5", "--no-bn-calibration")``; whether the command knows them is checked later."""
    args: list = []
    for name, value in options.items():
        if not isinstance(name, str) or name.startswith("-"):
            raise SweepError(f"{source}: {where}: option {name!r}: write it without the leading --")
        if name in own:
            raise SweepError(f"{source}: {where}: option {name!r} is set by the sweep itself")
        if isinstance(value, bool):
            args.append(f"--{name}" if value else f"--no-{name}")
        elif isinstance(value, list):
            args += [f"--{name}", ",".join(map(str, value))]
        elif isinstance(value, (int, float, str)):
            args += [f"--{name}", str(value)]
        else:
            raise SweepError(f"{source}: {where}: option {name!r} has no command-line value: {value!r}")
    return tuple(args)


def _evaluations(value: Any, source: Path) -> tuple:
    if isinstance(value, list):
        value = {name: {} for name in value}
    value = _mapping(value if value is not None else {}, "evaluations", source)
    _names(value, "evaluation", source)
    out = []
    for name, options in value.items():
        options = dict(_mapping(options if options is not None else {}, f"evaluations.{name}", source))
        command = options.pop("command", name)
        if command not in EVALUATION_COMMANDS:
            raise SweepError(f"{source}: evaluation {name!r}: command {command!r} is not one of "
                             f"{', '.join(EVALUATION_COMMANDS)} (set 'command:' for a second instance)")
        out.append(Evaluation(name, command, option_args(options, EVALUATION_OWN, f"evaluation {name!r}", source)))
    return tuple(out)


def _arms(value: Any, common: tuple, grid: Any, source: Path) -> tuple:
    arms_in = _mapping(value, "arms", source)
    if not arms_in:
        raise SweepError(f"{source}: 'arms' is empty")
    _names(arms_in, "arm", source)
    axes = []
    for axis, levels in _mapping(grid if grid is not None else {}, "grid", source).items():
        levels = _mapping(levels, f"grid.{axis}", source)
        _names(levels, f"grid.{axis} level", source)
        if not levels:
            raise SweepError(f"{source}: 'grid.{axis}' has no levels")
        axes.append([(level, _overrides(sets, f"grid.{axis}.{level}", source)) for level, sets in levels.items()])
    arms = []
    for name, spec in arms_in.items():
        spec = _mapping(spec, f"arms.{name}", source)
        unknown = sorted(set(spec) - set(ARM_KEYS))
        if unknown:
            raise SweepError(f"{source}: arm {name!r}: unknown key {unknown[0]!r} (has {', '.join(ARM_KEYS)})")
        if not isinstance(spec.get("recipe"), str):
            raise SweepError(f"{source}: arm {name!r}: 'recipe' (a recipe name or YAML path) is required")
        own = _overrides(spec.get("set"), f"arms.{name}.set", source)
        for combination in itertools.product(*axes):
            arm_name = "+".join([name, *(level for level, _ in combination)])
            sets = common + own + tuple(s for _, level_sets in combination for s in level_sets)
            arms.append(Arm(arm_name, spec["recipe"], sets))
    return tuple(arms)


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (structure only; :func:`check_configs` builds the recipes)."""
    path = resolve_sweep(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SweepError(f"{path}: invalid YAML: {err}") from None
    raw = _mapping(raw, "(the file)", path)
    unknown = sorted(set(raw) - set(SWEEP_KEYS))
    if unknown:
        raise SweepError(f"{path}: unknown key {unknown[0]!r} (a sweep file has {', '.join(SWEEP_KEYS)})")
    for key in ("arms", "seeds"):
        if key not in raw:
            raise SweepError(f"{path}: '{key}' is required")
    for key in ("data", "benchmark"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SweepError(f"{path}: '{key}' must be a string")
    common = _overrides(raw.get("set"), "set", path)
    arms = _arms(raw["arms"], common, raw.get("grid"), path)
    reference = raw.get("reference")
    if reference is not None and reference not in [arm.name for arm in arms]:
        raise SweepError(f"{path}: 'reference' {reference!r} is not an arm (arms: {', '.join(a.name for a in arms)})")
    return Sweep(path, raw.get("data"), raw.get("benchmark"), _seeds(raw["seeds"], path), arms,
                 _evaluations(raw.get("evaluations"), path), reference)


def check_configs(sweep: Sweep) -> None:
    """Build every arm's effective configuration, so a bad recipe or override fails before any run."""
    for arm in sweep.arms:
        try:
            build_config(arm.recipe, {"data.benchmark": sweep.benchmark, "train.seed": sweep.seeds[0]}, arm.overrides)
        except ConfigError as err:
            raise SweepError(f"{sweep.path}: arm {arm.name!r}: {err}") from None


def data_location(data: str) -> str:
    """A URL as it is, a local path made absolute (the runs' commands do not depend on the cwd)."""
    return data if "://" in data else str(Path(data).expanduser().resolve())


def _pretrain_argv(data: str, bench: tuple, arm: Arm, seed: int, out: Path) -> tuple:
    return (PRETRAIN, "--data", data, *bench, "--config", arm.recipe, "--seed", str(seed), "--out", str(out),
            "--resume", *(a for s in arm.overrides for a in ("--set", s)))


def _warmup(data: str, sweep: Sweep, arm: Arm, seed: int, bench: tuple, root: Path, known: dict) -> Warmup | None:
    """The shared warm-up of ``arm`` at ``seed`` (``None`` if its recipe has none); one object per
    key in ``known``, made from the first arm that needs it."""
    cfg = build_config(arm.recipe, {"data.benchmark": sweep.benchmark, "train.seed": seed}, arm.overrides)
    identity = warmup_identity(cfg)
    if identity is None:
        return None
    key = hashlib.sha256(json.dumps({"data": data, "warmup": identity}, sort_keys=True).encode()).hexdigest()
    if key not in known:
        epochs = cfg["warmup"]["epochs"]
        where = root / key[:16]
        argv = (*_pretrain_argv(data, bench, arm, seed, where / PRETRAIN), "--stop-after", str(epochs))
        step = Step(WARMUP, argv, where / PRETRAIN, where / f"{WARMUP}.json", {"key": key, "epochs": epochs})
        known[key] = Warmup(key, epochs, where, step)
    return known[key]


def plan_runs(sweep: Sweep, out: str | Path, data: str | None = None, warmups: str | Path | None = None) -> list:
    """The runs of a sweep, seed-major (every arm's seed 0 first), so a partial sweep is balanced.
    Shared warm-ups go to ``warmups`` (default ``OUT/_warmups``; one directory may serve several
    sweeps on the same data)."""
    data = data or sweep.data
    if data is None:
        raise SweepError(f"{sweep.path}: no 'data' in the file; pass --data")
    data = data_location(data)
    bench = ("--benchmark", sweep.benchmark) if sweep.benchmark else ()
    root = Path(warmups).resolve() if warmups is not None else Path(out).resolve() / "_warmups"
    known: dict = {}
    runs = []
    for seed, arm in itertools.product(sweep.seeds, sweep.arms):
        run_dir = Path(out).resolve() / arm.name / f"seed-{seed}"
        pre_out = run_dir / PRETRAIN
        pre_settings = {"data": data, "benchmark": sweep.benchmark, "recipe": arm.recipe,
                        "set": list(arm.overrides), "seed": seed}
        try:
            warmup = _warmup(data, sweep, arm, seed, bench, root, known)
        except ConfigError as err:
            raise SweepError(f"{sweep.path}: arm {arm.name!r}: {err}") from None
        steps = [Step(PRETRAIN, _pretrain_argv(data, bench, arm, seed, pre_out), pre_out, pre_out / ENCODER,
                      pre_settings)]
        for ev in sweep.evaluations:
            ev_out = run_dir / "eval" / ev.name
            argv = (ev.command, "--data", data, *bench, "--checkpoint", str(pre_out / ENCODER), "--seed", str(seed),
                    "--out", str(ev_out), *ev.args)
            steps.append(Step(ev.name, argv, ev_out, ev_out / METRICS,
                              {"command": ev.command, "args": list(ev.args)}))
        runs.append(Run(arm.name, seed, run_dir, tuple(steps), warmup))
    return runs
