"""Training recipes: YAML files merged onto defaults, dotted command-line overrides, validation.

A recipe is a YAML mapping with the sections of :func:`defaults`. It may start from other
recipes with ``_base_: <name or path>`` (a string or a list, merged in order, then the file's own
keys on top). A misspelt key is an error that names the file (or ``--set``) and the dotted key,
never a silently ignored setting.

Two kinds of sections:

- the engine's own (``data``, ``optim``, ``schedule``, ``train``, ``monitor``, ``warmup``): every
  key must exist in :data:`ENGINE_DEFAULTS`, checked here;
- sections owned by other modules (:data:`OWNED`: ``method`` and ``warmup.method`` by
  :func:`actclr.methods.method_options`, ``model`` by :func:`actclr.models.encoder_options`,
  ``augment`` by :func:`actclr.augment.build_augmenter`): merged here as values (a mapping onto
  a mapping key by key, anything else replaces, ``null`` included) and checked by their owner
  after every recipe, option and override that touches them, so that the error names its source.
  A method section whose ``name`` changes starts from that method's defaults. The ``model``
  section also holds the engine's :data:`ENGINE_MODEL_KEYS`.

Resolution order (later wins): :func:`defaults` -> recipe (with its bases) -> command-line
options (``--epochs`` ...) -> ``--set key.sub=value`` overrides (values parsed as YAML, so
``true``, ``0.1``, ``[250, 300]`` and ``null`` work).
"""
from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from actclr.constants import DEVICES, FEATURES, STREAMS
from actclr.engine.guard import GUARD_MODES
from actclr.resources import shared_path, shipped_yaml
from actclr.store.atomic import write_bytes


class ConfigError(ValueError):
    """A recipe or override that cannot be used; the message names its source and key."""


#: Values of the engine's own sections. ``method``, ``model`` and ``augment`` are filled from the
#: defaults of the modules that own them (see :func:`defaults`).
ENGINE_DEFAULTS: dict = {
    "data": {
        "benchmark": None,  # e.g. xview; the CLI's --benchmark
        "stream": "joint",  # joint | motion | bone
        "batch_size": 128,  # per device; the effective batch is batch_size x world size
        "workers": 4,  # DataLoader workers per process
        "mode": "exact",  # exact (each sample once per epoch) | resampled (with replacement)
        "samples_per_epoch": None,  # resampled mode only; default = the training split size
    },
    "optim": {
        "name": "sgd",  # sgd (official code) | adam (paper text) | adamw
        "lr": 0.1,  # for the effective batch of the recipe; official: 0.1 per 128 sequences
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 1.0e-4,
        "betas": [0.9, 0.999],
    },
    "schedule": {
        "name": "step",  # step (official: x0.1 after epoch 250) | cosine
        "milestones": [250],  # 1-based epochs after which lr is multiplied by gamma
        "gamma": 0.1,
        "warmup_epochs": 0,  # linear warm-up, counted in steps, for either schedule
        "min_lr": 0.0,  # cosine floor
    },
    "train": {
        "epochs": 350,
        "seed": 0,
        "device": "auto",  # auto | cpu | cuda
        "amp": "none",  # none | bf16 | fp16 (CUDA only; ignored on CPU)
        "channels_last": False,  # CUDA only
        "save_every": 50,  # also keep checkpoints/epoch_XXXX.pt every N epochs (0 = only last.pt)
        "grad_clip": None,  # max global grad norm, or null
        "log_every": 50,  # steps between progress log lines
    },
    "monitor": {
        "every": 5,  # epochs between kNN evaluations (0 = off)
        "holdout": 0.1,  # fraction of the TRAINING split held out as kNN queries (by key)
        "k": [10, 20],
        "temperature": 0.1,
        "feature": "embed",  # embed (128-d projector, official) | backbone (256-d)
        "batch_size": 256,
        # re-estimate the query encoder's BatchNorm statistics on the un-augmented training split
        # for every reading and for RUN/encoder.pt (docs/training.md "Precise BatchNorm statistics")
        "precise_bn": False,
        # collapse guard (actclr.engine.guard; docs/training.md "Collapse guard"): off | warn
        # (log and report a collapsing phase) | stop (also end the phase, keep its best epoch)
        "guard": "warn",
        "guard_knn_drop": 10.0,  # kNN monitor points below the phase start
        "guard_cosine_rise": 0.05,  # with it: mean key cosine above the phase's first epoch
        "guard_cosine_high": 0.99,  # ... or at least this (keys nearly coincide)
    },
    "warmup": {
        # Optional first phase (e.g. MoCo v2) run before ``method`` in the same schedule; the
        # main method then starts from its weights. ``epochs: 0`` disables it.
        "epochs": 0,
        "method": {"name": None},  # e.g. {name: mocov2, ...its settings}
        "optim": {},  # partial overrides of ``optim`` for the warm-up phase
        "schedule": {},  # partial overrides of ``schedule`` for the warm-up phase
    },
}

@dataclass(frozen=True)
class DDPOptions:
    """The engine's keys of the ``model`` section (removed before the encoder is built).

    ``sync_bn``: SyncBatchNorm across ranks (CUDA + DDP only; the official trainer always converts).
    ``broadcast_buffers``: DDP re-broadcasts rank 0's buffers (BN statistics, queue) at every
    forward, as the official trainer (DDP's default) does; off by default because the queue is
    identical on all ranks by construction and the broadcast costs its size per step.
    """

    sync_bn: bool = False
    broadcast_buffers: bool = False


#: The engine's keys of the ``model`` section with their defaults.
ENGINE_MODEL_KEYS = asdict(DDPOptions())

#: Sections whose keys are checked against another section instead of their own defaults.
_PARTIAL_OF = {("warmup", "optim"): ("optim",), ("warmup", "schedule"): ("schedule",)}

_CHOICES = {
    ("data", "stream"): STREAMS,
    ("data", "mode"): ("exact", "resampled"),
    ("train", "device"): DEVICES,
    ("train", "amp"): ("none", "bf16", "fp16"),
    ("monitor", "feature"): FEATURES,
    ("monitor", "guard"): GUARD_MODES,
}
#: Choices checked per phase (the warm-up phase may override them).
_PHASE_CHOICES = {"optim": ("sgd", "adam", "adamw"), "schedule": ("step", "cosine")}


def _owned_defaults() -> dict:
    """Defaults of the sections owned by the model, method and augmentation modules."""
    from actclr.augment import official_config
    from actclr.models import DEFAULTS as model_defaults

    return {"method": _method_schema("actclr"),
            "model": {**model_defaults, **ENGINE_MODEL_KEYS},
            "augment": official_config()}


#: Order of the sections in ``config.yaml``.
SECTIONS = ("data", "method", "model", "augment", "optim", "schedule", "train", "monitor", "warmup")


def plain(obj: Any) -> Any:
    """``obj`` with only JSON/YAML types (tuples become lists), as a recipe file would give it."""
    return json.loads(json.dumps(obj))


def defaults() -> dict:
    """A fresh copy of the complete default configuration (plain JSON types)."""
    cfg = {**ENGINE_DEFAULTS, **_owned_defaults()}
    return plain({name: cfg[name] for name in SECTIONS})


#: Key paths of the sections owned by other modules (see the module docstring).
OWNED = (("method",), ("model",), ("augment",), ("warmup", "method"))


def _check_owned(path: tuple, section: Mapping) -> None:
    """Let the owner of the section at ``path`` check it; ``ValueError`` naming the key."""
    from actclr.augment import build_augmenter
    from actclr.methods import method_options
    from actclr.models import encoder_options

    where = ".".join(path)
    if path[-1] == "method":
        method_options(section, where)
    elif path == ("model",):
        encoder_options({k: v for k, v in section.items() if k not in ENGINE_MODEL_KEYS})
    else:
        build_augmenter(section)


def _merge_value(base: Any, update: Any) -> Any:
    """``update`` merged onto ``base``: mappings key by key (new keys allowed), anything else replaces."""
    if isinstance(base, Mapping) and isinstance(update, Mapping):
        out = dict(base)
        for key, value in update.items():
            out[key] = _merge_value(base.get(key), value)
        return out
    return copy.deepcopy(update)


def _merge_owned(path: tuple, base: Mapping, update: Mapping, source: str) -> dict:
    """An owned section with ``update`` merged in, checked by its owner (errors name ``source``)."""
    try:
        if path[-1] == "method" and update.get("name", base["name"]) != base["name"]:
            base = _method_schema(update["name"])
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    merged = _merge_value(base, update)
    try:
        _check_owned(path, merged)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: '{'.'.join(path)}': {err}") from None
    return merged


def _method_schema(name: str | None) -> dict:
    """``{"name": name, **defaults of that method}`` (``{"name": None}`` for no method)."""
    from actclr.methods import method_defaults

    if name is None:
        return {"name": None}
    try:
        return plain({"name": name, **method_defaults(name)})
    except KeyError as err:
        raise ConfigError(f"unknown method {name!r}: {err}") from None


def merge(base: dict, update: Mapping, source: str, prefix: tuple = (), root: dict | None = None) -> dict:
    """``base`` with ``update`` merged in (recursively, new dict); unknown keys are errors.

    ``root`` is the whole configuration when ``base`` is one of its sections (used by the
    partial sections such as ``warmup.optim``, whose keys are those of another section).
    Sections in :data:`OWNED` are merged as values and checked by their owner.
    """
    root = base if root is None else root
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = prefix + (key,)
        dotted = ".".join(path)
        schema = get(root, _PARTIAL_OF[prefix]) if prefix in _PARTIAL_OF else out
        if key not in schema:
            known = ", ".join(sorted(schema)) or "(none)"
            raise ConfigError(f"{source}: unknown key '{dotted}' (known keys here: {known})")
        if isinstance(schema[key], Mapping) and not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{dotted}' must be a mapping, got {value!r}")
        if path in OWNED:
            out[key] = _merge_owned(path, out[key], value, source)
        elif path in _PARTIAL_OF or (isinstance(schema[key], Mapping) and schema[key]):
            out[key] = merge(out.get(key, {}), value, source, path, root)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_recipe(name_or_path: str | Path) -> Path:
    """The YAML file of a recipe given as a path or as a name under ``configs/``."""
    try:
        return shipped_yaml(name_or_path, "configs")
    except FileNotFoundError:
        available = ", ".join(list_recipes()) or "(none found)"
        raise ConfigError(f"recipe {name_or_path!r} is neither a file nor a shipped recipe; "
                          f"shipped recipes: {available}") from None


def list_recipes() -> list:
    """Names of the shipped recipes (``configs/*.yaml`` without the suffix)."""
    try:
        folder = shared_path("configs")
    except FileNotFoundError:
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_yaml(path: Path) -> dict:
    """Read one YAML mapping; errors name the file."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def load_recipe(name_or_path: str | Path, base: dict | None = None, _seen: tuple = ()) -> dict:
    """Defaults (or ``base``) with the recipe and its ``_base_`` recipes merged in."""
    path = resolve_recipe(name_or_path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: recipe includes itself through _base_")
    raw = load_yaml(path)
    cfg = defaults() if base is None else base
    bases = raw.pop("_base_", [])
    for parent in [bases] if isinstance(bases, str) else bases:
        siblings = [path.parent / parent, path.parent / f"{parent}.yaml"]
        located = next((str(p) for p in siblings if p.is_file()), parent)
        cfg = load_recipe(located, cfg, _seen + (path,))
    return merge(cfg, raw, str(path))


def parse_override(text: str) -> tuple:
    """``"a.b=0.1"`` -> ``(("a", "b"), 0.1)``; the value is parsed as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected key.sub=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {text!r}: value is not valid YAML: {err}") from None
    return tuple(key.split(".")), parsed


def nested(path: Iterable[str], value: Any) -> dict:
    """``("a", "b"), 1`` -> ``{"a": {"b": 1}}``."""
    out: Any = value
    for part in reversed(tuple(path)):
        out = {part: out}
    return out


def apply_overrides(cfg: dict, overrides: Iterable[str]) -> dict:
    """``cfg`` with each ``key.sub=value`` override merged in, in order."""
    for text in overrides:
        path, value = parse_override(text)
        cfg = merge(cfg, nested(path, value), f"--set {text}")
    return cfg


def build_config(recipe: str | Path | None, options: Mapping | None = None,
                 overrides: Iterable[str] = ()) -> dict:
    """The effective configuration: defaults <- recipe <- ``options`` (dotted keys) <- overrides.

    ``options`` maps dotted keys to values for the explicit CLI options that were given
    (``{"train.epochs": 4}``); ``None`` values are skipped.
    """
    cfg = load_recipe(recipe) if recipe is not None else defaults()
    for dotted, value in (options or {}).items():
        if value is not None:
            cfg = merge(cfg, nested(dotted.split("."), value), f"option {dotted}")
    cfg = apply_overrides(cfg, overrides)
    validate(cfg)
    return cfg


def _positive(cfg: dict, *path: str, allow_zero: bool = False) -> None:
    value = get(cfg, path)
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"'{'.'.join(path)}' must be an integer {bound}, got {value!r}")


def get(cfg: Mapping, path: Iterable[str]) -> Any:
    """The value at a key path (``("train", "epochs")``)."""
    value: Any = cfg
    for part in path:
        value = value[part]
    return value


def validate(cfg: dict) -> None:
    """Check values that the engine interprets; raise :class:`ConfigError` naming the key."""
    for path, choices in _CHOICES.items():
        if get(cfg, path) not in choices:
            raise ConfigError(f"'{'.'.join(path)}' must be one of {', '.join(choices)}, "
                              f"got {get(cfg, path)!r}")
    if cfg["data"]["benchmark"] is None:
        raise ConfigError("'data.benchmark' is not set (use --benchmark or the recipe)")
    for path in (("data", "batch_size"), ("train", "epochs"), ("monitor", "batch_size")):
        _positive(cfg, *path)
    for path in (("data", "workers"), ("train", "save_every"), ("monitor", "every"),
                 ("warmup", "epochs"), ("schedule", "warmup_epochs"), ("train", "log_every")):
        _positive(cfg, *path, allow_zero=True)
    holdout = cfg["monitor"]["holdout"]
    if not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ConfigError(f"'monitor.holdout' must be in [0, 1), got {holdout!r}")
    if cfg["monitor"]["every"] and holdout == 0:
        raise ConfigError("'monitor.every' > 0 needs 'monitor.holdout' > 0 (queries for the kNN monitor)")
    for key in ("guard_knn_drop", "guard_cosine_rise", "guard_cosine_high"):
        value = cfg["monitor"][key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"'monitor.{key}' must be a number, got {value!r}")
    if cfg["monitor"]["precise_bn"] not in (True, False):
        raise ConfigError(f"'monitor.precise_bn' must be true or false, got {cfg['monitor']['precise_bn']!r}")
    if cfg["monitor"]["precise_bn"] and not cfg["monitor"]["every"]:
        raise ConfigError("'monitor.precise_bn' re-estimates BatchNorm statistics on the monitor's data: it needs "
                          "'monitor.every' > 0")
    if cfg["monitor"]["guard"] == "stop" and not cfg["monitor"]["every"]:
        raise ConfigError("'monitor.guard: stop' keeps the best epoch by the kNN monitor: it needs 'monitor.every' > 0")
    if not all(isinstance(k, int) and k > 0 for k in cfg["monitor"]["k"]):
        raise ConfigError(f"'monitor.k' must be a list of positive integers, got {cfg['monitor']['k']!r}")
    if cfg["warmup"]["epochs"] and not cfg["warmup"]["method"]["name"]:
        raise ConfigError("'warmup.epochs' > 0 needs 'warmup.method.name' (e.g. mocov2)")
    for phase in ("main", "warmup"):  # main first: the warm-up inherits its values
        where = "warmup." if phase == "warmup" else ""
        part = phase_config(cfg, phase)
        lr = part["optim"]["lr"]
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
            raise ConfigError(f"'{where}optim.lr' must be a positive number, got {lr!r}")
        for section, choices in _PHASE_CHOICES.items():
            if part[section]["name"] not in choices:
                raise ConfigError(f"'{where}{section}.name' must be one of {', '.join(choices)}, "
                                  f"got {part[section]['name']!r}")
        milestones = part["schedule"]["milestones"]
        if not isinstance(milestones, list) or milestones != sorted(milestones):
            raise ConfigError(f"'{where}schedule.milestones' must be an increasing list of epochs, "
                              f"got {milestones!r}")


def encoder_options(model: Mapping) -> dict:
    """A ``model`` section (also one saved in a checkpoint) without the engine's keys: the
    arguments of ``build_encoder``."""
    return {k: copy.deepcopy(v) for k, v in model.items() if k not in ENGINE_MODEL_KEYS}


def encoder_config(cfg: Mapping) -> dict:
    """The ``model`` section of a configuration without the engine's keys."""
    return encoder_options(cfg["model"])


def ddp_options(cfg: Mapping) -> DDPOptions:
    """The engine's keys of the ``model`` section of a configuration."""
    return DDPOptions(**{k: bool(cfg["model"].get(k, default)) for k, default in ENGINE_MODEL_KEYS.items()})


def phase_config(cfg: Mapping, phase: str) -> dict:
    """The ``optim``/``schedule``/``method`` of one phase (``"warmup"`` or ``"main"``)."""
    if phase == "main":
        return {"method": cfg["method"], "optim": cfg["optim"], "schedule": cfg["schedule"]}
    warm = cfg["warmup"]
    return {"method": warm["method"], "optim": {**cfg["optim"], **warm["optim"]},
            "schedule": {**cfg["schedule"], **warm["schedule"]}}


#: What only the main phase reads: its method, optimiser and schedule (the warm-up's own are
#: :func:`phase_config`'s merge) and its length; ``train.save_every`` only chooses files.
MAIN_ONLY = {"method": None, "optim": None, "schedule": None, "train": ("epochs", "save_every")}


def warmup_identity(cfg: Mapping) -> dict | None:
    """Everything that decides the warm-up phase of an effective configuration (``None`` without
    one): the configuration minus :data:`MAIN_ONLY`, with the warm-up's merged optimiser and
    schedule. On the same data, equal identities train the same warm-up, step for step."""
    if not cfg["warmup"]["epochs"]:
        return None
    out = {}
    for section, value in cfg.items():
        dropped = MAIN_ONLY.get(section, ())
        if dropped is None:
            continue
        out[section] = {k: v for k, v in value.items() if k not in dropped} if dropped else value
    out["warmup"] = {**cfg["warmup"], **phase_config(cfg, "warmup")}
    return plain(out)


def to_yaml(cfg: Mapping) -> str:
    """The configuration as YAML (sections in definition order)."""
    return yaml.safe_dump(plain(cfg), sort_keys=False, default_flow_style=None)


def save_config(cfg: Mapping, path: str | Path) -> None:
    """Atomically write the effective configuration."""
    write_bytes(path, to_yaml(cfg).encode())


def config_hash(cfg: Mapping) -> str:
    """sha256 of the canonical JSON form of a configuration."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()


def diff(old: Mapping, new: Mapping, prefix: str = "") -> list:
    """Dotted keys whose values differ between two configurations, with both values."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out
