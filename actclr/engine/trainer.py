"""The pretraining loop: phases, epochs and steps under DDP, checkpoints, logs and a monitor hook.

One process per device (``torchrun``) or a single process. Per epoch every rank reads its part
of the training shards (order: a function of ``(seed, epoch)``), runs exactly the same number of
steps (the minimum over ranks), and rank 0 writes metrics and ``checkpoints/last.pt``.

A run has one or two *phases*: an optional warm-up method (e.g. MoCo v2) for ``warmup.epochs``,
then the main method (ActCLR) for ``train.epochs``; the main method starts from the warm-up's
query encoder with a fresh queue, optimizer and lr schedule. Epoch numbers in logs and
checkpoints are global (1-based, over both phases); methods receive the epoch within their phase.

Determinism: data order depends on ``(seed, epoch)``; every random state (python, numpy, torch
CPU/CUDA, each rank's augmentation generator) is saved in the checkpoint, so an interrupted and
resumed run ends with the same weights as an uninterrupted one (bit-exact on CPU with
``workers: 0``).

Monitoring: every ``monitor.every`` epochs rank 0 asks a :class:`Monitor` (built by the
:data:`MonitorFactory` the caller hands in, e.g. :meth:`actclr.eval.monitor.KNNMonitor.from_config`)
for numbers about the query encoder and logs them; the engine knows nothing about evaluation.
"""
from __future__ import annotations

import inspect
import itertools
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as tdist
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from actclr.data import ShardStream, make_loader, to_device
from actclr.data.splitting import derive_seed
from actclr.engine import rng
from actclr.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    best_path,
    encoder_export,
    epoch_path,
    last_path,
    load_training_checkpoint,
    read_encoder,
    save_checkpoint,
)
from actclr.engine.config import config_hash, ddp_options, diff, encoder_config, phase_config, save_config
from actclr.engine.dist import DistEnv, all_reduce, barrier, broadcast_module, init_distributed, shutdown
from actclr.engine.guard import START_PREFIX, GuardLimits, best_reading, judge, phase_signals, stopped_note
from actclr.engine.log import MetricsLog
from actclr.engine.rundir import check_run_dir, environment_record, write_environment
from actclr.engine.schedule import LRSchedule, build_schedule, set_lr
from actclr.methods import build_method
from actclr.methods.moco import MomentumContrast
from actclr.models import Encoder, build_encoder
from actclr.store import PreparedDataset, open_dataset

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class SetupError(ValueError):
    """The dataset or configuration cannot be trained as asked (names what is wrong)."""


class Monitor(Protocol):
    """Numbers about the encoder being trained, logged every ``monitor.every`` epochs."""

    def evaluate(self, encoder: Encoder) -> Mapping[str, float]:
        """``{"name": value}`` for the current weights of ``encoder`` (the query encoder)."""
        ...

    def exported(self, encoder: Encoder) -> Encoder:
        """The encoder ``RUN/encoder.pt`` holds (``encoder``, or a copy with other BN statistics)."""
        ...


#: Builds rank 0's monitor from the dataset, the effective configuration and the device.
MonitorFactory = Callable[[PreparedDataset, Mapping, torch.device], Monitor]


@dataclass(frozen=True)
class Phase:
    """A contiguous block of epochs trained with one method, optimizer and lr schedule."""

    name: str  # "warmup" | "main"
    method: Mapping
    optim: Mapping
    schedule: Mapping
    start: int  # global epochs completed before the phase
    epochs: int

    @property
    def end(self) -> int:
        """The last global epoch of the phase."""
        return self.start + self.epochs


def plan_phases(cfg: Mapping) -> list:
    """The phases of a configuration, in order (warm-up only if ``warmup.epochs > 0``)."""
    warm = cfg["warmup"]["epochs"]
    phases = [Phase("warmup", **phase_config(cfg, "warmup"), start=0, epochs=warm)] if warm else []
    return phases + [Phase("main", **phase_config(cfg, "main"), start=warm, epochs=cfg["train"]["epochs"])]


def phase_at(phases: list, epoch: int) -> Phase:
    """The phase that trains global epoch ``epoch`` (1-based); the last one beyond the end."""
    return next((p for p in phases if epoch <= p.end), phases[-1])


def build_optimizer(params: list, cfg: Mapping) -> torch.optim.Optimizer:
    """SGD (official code), Adam (paper text) or AdamW from an ``optim`` config section."""
    if cfg["name"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"],
                               nesterov=cfg["nesterov"], weight_decay=cfg["weight_decay"])
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg["name"]]
    return cls(params, lr=cfg["lr"], betas=tuple(cfg["betas"]), weight_decay=cfg["weight_decay"])


def _ddp(module: nn.Module, env: DistEnv, broadcast_buffers: bool = False) -> DistributedDataParallel:
    """DDP over a method: only the query encoder has trainable parameters, so only its gradients
    are all-reduced. ``broadcast_buffers`` re-broadcasts rank 0's buffers (the queue, BN
    statistics) at every forward, as the official trainer does; without it each rank keeps its
    own BN statistics and the queue stays identical on all ranks by construction (gathered
    enqueue)."""
    kwargs: dict[str, Any] = {"device_ids": [env.device.index]} if env.device.type == "cuda" else {}
    sync_kw = ("forward_sync_buffers" if "forward_sync_buffers" in
               inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers")
    # The 1x1 convolutions' weight gradients (C_out, C_in, 1, 1) come with arbitrary strides on
    # their size-1 dimensions; DDP then warns once per process although the layout is equivalent.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    kwargs[sync_kw] = broadcast_buffers
    return DistributedDataParallel(module, **kwargs)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


class Trainer:
    """Runs the phases of one configuration on one prepared dataset into one run directory.

    The training shards are hashed as they stream and a shard whose sha256 differs from
    ``dataset.json`` stops training (``CorruptShardError``) unless ``verify`` is off.
    ``monitor`` builds rank 0's :class:`Monitor` (none: no monitor numbers in the logs)."""

    def __init__(self, cfg: Mapping, dataset: PreparedDataset, run_dir: Path, env: DistEnv,
                 console: Console | None = None, verify: bool = True,
                 monitor: MonitorFactory | None = None) -> None:
        self.cfg, self.dataset, self.run_dir, self.env = cfg, dataset, Path(run_dir), env
        self.console = console or Console(stderr=True, quiet=not env.is_main, log_path=False)
        data, train = cfg["data"], cfg["train"]
        self.benchmark, self.stream_name = data["benchmark"], data["stream"]
        if self.benchmark not in dataset.info.get("counts", {}):
            raise SetupError(f"{dataset.location}: no benchmark {self.benchmark!r} "
                             f"(has {', '.join(dataset.info.get('counts', {}))})")
        self.seed = int(train["seed"])
        self.device = env.device
        self.stream = ShardStream.from_dataset_dir(
            dataset, self.benchmark, "train", data["batch_size"], verify=verify, seed=self.seed,
            mode=data["mode"], samples_per_epoch=data["samples_per_epoch"], rank=env.rank,
            world_size=env.world_size)
        self.workers, lowered = self._usable_workers(data["workers"])
        self.loader = make_loader(self.stream, self.device, num_workers=self.workers, seed=self.seed)
        local_steps = torch.tensor(self.stream.batches_per_rank(self.workers), device=self.device)
        self.steps_per_epoch = int(all_reduce(local_steps, env, "min"))
        if self.steps_per_epoch < 1:
            largest = self.stream.largest_batch(self.workers)
            raise SetupError(f"{dataset.location}: the {self.benchmark} training split gives no full batch of "
                             f"{data['batch_size']} per rank ({env.world_size} rank(s) x "
                             f"{max(self.workers, 1)} loader stream(s)); pass --batch-size {largest} or less"
                             + (", or a recipe for small data (--config actclr_synth-xsub_joint_1xcpu_demo)"
                                if largest else ""))
        if lowered:
            self.console.log(lowered)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed + env.rank)
        cuda = self.device.type == "cuda"
        self.amp_dtype = AMP_DTYPES.get(train["amp"]) if cuda else None
        self.channels_last = bool(train["channels_last"]) and cuda
        self.ddp = ddp_options(cfg)
        self.sync_bn = self.ddp.sync_bn and cuda and env.distributed
        self.phases = plan_phases(cfg)
        self.total_epochs = self.phases[-1].end
        self.average_motion = torch.from_numpy(dataset.average_motion(self.benchmark))
        self.monitor: Monitor | None = None
        if monitor is not None and cfg["monitor"]["every"] and env.is_main:
            self.monitor = monitor(dataset, cfg, self.device)
        self.phase: Phase | None = None

    def _usable_workers(self, wanted: int) -> tuple[int, str]:
        """``wanted`` DataLoader workers, lowered to what the training shards can feed (in exact mode
        each shard is read by one worker of one rank), and the note saying so ("" if unchanged)."""
        most = self.stream.max_workers()
        if most is None or wanted <= max(most, 1):
            return wanted, ""
        shards = len(self.stream.urls)
        if most == 0:
            raise SetupError(f"{self.dataset.location}: the {self.benchmark} training split has {shards} shard(s), "
                             f"fewer than the {self.env.world_size} ranks; start at most {shards} process(es) "
                             "or pass --set data.mode=resampled")
        return most, (f"data.workers {wanted} -> {most}: the {self.benchmark} training split has {shards} "
                      f"shard(s) for {self.env.world_size} rank(s), and each shard is read by one worker")

    # -- building ---------------------------------------------------------------------------

    def _encoder(self) -> Encoder:
        return build_encoder(encoder_config(self.cfg))

    def setup_phase(self, phase: Phase, previous: MomentumContrast | None = None) -> None:
        """Build the phase's method (from ``previous``'s query encoder if given), its DDP
        wrapper, optimizer, lr schedule and gradient scaler."""
        try:
            method = build_method(phase.method["name"], phase.method, self._encoder,
                                  augmenter=self.cfg["augment"], stream=self.stream_name,
                                  average_motion=self.average_motion)
        except ValueError as err:  # options that cannot go together (e.g. ActCLR without a projector)
            raise SetupError(f"{phase.name} phase, method {phase.method['name']}: {err}") from None
        if previous is not None:
            method.init_from(previous)
        method.to(self.device)
        if self.channels_last:
            # Module.to takes memory_format (see its docstring); torch's overloads omit it.
            method.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.sync_bn:  # converts the BatchNorm layers in place and returns the method itself
            nn.SyncBatchNorm.convert_sync_batchnorm(method)
        broadcast_module(method, self.env)
        self.method = method
        self.model = (_ddp(method, self.env, self.ddp.broadcast_buffers) if self.env.distributed else method)
        trainable = [p for p in method.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(trainable, phase.optim)
        self.schedule: LRSchedule = build_schedule(phase.schedule, phase.optim["lr"], phase.epochs,
                                                   self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.phase = phase

    @property
    def current_phase(self) -> Phase:
        """The phase set up last (by :meth:`setup_phase`)."""
        if self.phase is None:
            raise RuntimeError("no phase is set up yet (call setup_phase first)")
        return self.phase

    # -- state ------------------------------------------------------------------------------

    def _rng_states(self) -> list:
        """Every rank's RNG states (gathered to all ranks; rank ``r`` at index ``r``)."""
        mine = rng.capture({"augment": self.generator})
        if not self.env.distributed:
            return [mine]
        mine = {**mine, "generators": {k: v.cpu() for k, v in mine["generators"].items()}}
        states: list = [None] * self.env.world_size
        tdist.all_gather_object(states, mine)
        return states

    def state_dict(self, epoch: int) -> dict:
        """The full training state after global epoch ``epoch``."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "phase": self.current_phase.name,
            "method_name": self.current_phase.method["name"],
            "global_step": (epoch - self.current_phase.start) * self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "method": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": self._rng_states(),
            "world_size": self.env.world_size,
            "config": self.cfg,
            "config_hash": config_hash(self.cfg),
            "dataset_fingerprint": self.dataset.info.get("fingerprint"),
        }

    def save(self, epoch: int, path: Path | None = None) -> None:
        """Rank 0 writes ``last.pt`` (and ``epoch_XXXX.pt`` every ``save_every`` epochs), or only
        ``path`` if given."""
        state = self.state_dict(epoch)  # collective: every rank takes part
        if self.env.is_main and path is not None:
            save_checkpoint(state, path)
        elif self.env.is_main:
            save_checkpoint(state, last_path(self.run_dir))
            every = self.cfg["train"]["save_every"]
            if every and (epoch % every == 0 or epoch == self.total_epochs):
                save_checkpoint(state, epoch_path(self.run_dir, epoch))

    def resume(self, path: Path, force: bool = False) -> int:
        """Load a full checkpoint; returns the last completed global epoch.

        A checkpoint trained on another dataset (its recorded fingerprint differs) is refused
        unless ``force``.
        """
        state = load_training_checkpoint(path)
        recorded, current = state.get("dataset_fingerprint"), self.dataset.info.get("fingerprint")
        if recorded != current:
            if not force:
                raise SetupError(f"{path} was trained on the dataset with fingerprint {recorded}, but "
                                 f"{self.dataset.location} has fingerprint {current}; pass --force to "
                                 "resume onto this dataset anyway")
            self.console.log(f"[yellow]resume: --force: the dataset fingerprint changes from {recorded} to {current}")
        epoch = int(state["epoch"])
        phase = phase_at(self.phases, epoch)
        if phase.name != state["phase"]:
            raise CheckpointError(f"{path}: epoch {epoch} was trained in phase {state['phase']!r} but "
                                  f"the configuration puts it in phase {phase.name!r} (warmup.epochs changed?)")
        for key, old, new in diff(state["config"], self.cfg):
            self.console.log(f"[yellow]resume: {key} changed from {old!r} to {new!r}")
        self.setup_phase(phase)
        unwrap(self.model).load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        states = state["rng"]
        if len(states) == self.env.world_size:
            rng.restore(states[self.env.rank], {"augment": self.generator})
        else:
            self.console.log(f"[yellow]resume: checkpoint from {len(states)} rank(s), now "
                             f"{self.env.world_size}: random streams are re-seeded (not bit-exact)")
            self._reseed(epoch)
        self.console.log(f"resumed from {path} after epoch {epoch}")
        return epoch

    def initialise_from(self, path: Path) -> None:
        """``--init``: both encoders of the first phase take the query encoder of a pretraining
        checkpoint (e.g. a MoCo v2 warm-up run's ``last.pt``) or of an ``encoder.pt``."""
        weights, model_cfg, _ = read_encoder(path)
        if model_cfg != encoder_config(self.cfg):
            raise CheckpointError(f"{path}: its encoder settings {model_cfg} differ from this run's "
                                  f"model section {encoder_config(self.cfg)}")
        self.method.encoder_q.load_state_dict(weights)
        self.method.encoder_k.load_state_dict(weights)
        self.console.log(f"initialised both encoders from {path}")

    def _reseed(self, epoch: int) -> None:
        """Per-rank seeds for dropout and augmentation, distinct across ranks and from the model init."""
        rng.seed_everything(derive_seed(self.seed, self.env.rank, epoch))
        self.generator.manual_seed(self.seed + self.env.rank + epoch)

    # -- training ---------------------------------------------------------------------------

    def train_step(self, x: torch.Tensor, phase_epoch: int) -> tuple:
        """One optimisation step on joint positions ``x (N, 3, T, V, M)``; ``(loss, logs)`` as floats."""
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            loss, logs = self.model(x, phase_epoch, self.generator)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"non-finite loss in phase epoch {phase_epoch}: {logs}")
        self.scaler.scale(loss).backward()
        clip = self.cfg["train"]["grad_clip"]
        if clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value, logs

    def train_epoch(self, epoch: int, progress: Progress) -> dict:
        """One epoch of ``steps_per_epoch`` steps; returns the epoch's mean logs (over ranks)."""
        phase = self.current_phase
        phase_epoch = epoch - phase.start
        self.model.train()
        self.loader.set_epoch(epoch)
        task = progress.add_task(f"epoch {epoch}/{self.total_epochs}", total=self.steps_per_epoch)
        sums: dict = defaultdict(float)
        steps, lr = 0, self.schedule((phase_epoch - 1) * self.steps_per_epoch)
        log_every = self.cfg["train"]["log_every"] if not self.console.is_terminal else 0
        start = time.perf_counter()
        for batch in itertools.islice(iter(self.loader), self.steps_per_epoch):
            lr = self.schedule((phase_epoch - 1) * self.steps_per_epoch + steps)
            set_lr(self.optimizer, lr)
            loss, logs = self.train_step(to_device(batch, self.device).x, phase_epoch)
            steps += 1
            for key, value in logs.items():
                sums[key] += float(value)
            progress.update(task, advance=1, description=f"epoch {epoch}/{self.total_epochs} loss {loss:.3f}")
            if log_every and steps % log_every == 0:
                self.console.log(f"epoch {epoch} step {steps}/{self.steps_per_epoch} loss {loss:.4f} lr {lr:.4g}")
        if steps != self.steps_per_epoch:
            raise RuntimeError(f"rank {self.env.rank} got {steps} batches in epoch {epoch}, "
                               f"expected {self.steps_per_epoch} (shards changed while training?)")
        elapsed = time.perf_counter() - start
        progress.remove_task(task)
        keys = sorted(sums)
        means = all_reduce(torch.tensor([sums[k] for k in keys], dtype=torch.float64,
                                        device=self.device), self.env, "mean") / steps
        samples = steps * self.cfg["data"]["batch_size"] * self.env.world_size
        return {"epoch": epoch, "phase": phase.name, "phase_epoch": phase_epoch, "lr": lr,
                **dict(zip(keys, means.tolist())), "samples_per_s": samples / elapsed,
                "epoch_time_s": elapsed}

    def monitor_due(self, epoch: int) -> bool:
        every = self.cfg["monitor"]["every"]
        return bool(every) and (epoch % every == 0 or epoch == phase_at(self.phases, epoch).end)

    # -- collapse guard (decisions: actclr.engine.guard) ------------------------------------

    def guard_start(self, epoch: int, phase: Phase) -> dict:
        """At a phase's first epoch: the monitor reading of its starting encoder (``start_knn_*``,
        logged in that epoch's row) and, with ``guard: stop``, that state as ``best.pt``."""
        if epoch != phase.start + 1 or self.cfg["monitor"]["guard"] == "off" or not self.cfg["monitor"]["every"]:
            return {}
        start = self.monitor.evaluate(self.method.encoder_q) if self.monitor is not None else {}
        if self.cfg["monitor"]["guard"] == "stop":
            self.save(phase.start, best_path(self.run_dir))
        return {START_PREFIX + key: value for key, value in start.items()}

    def guard_epoch(self, row: dict, rows: list, phase: Phase) -> bool:
        """Judge the phase after ``row`` (rank 0 decides, every rank follows): adds ``guard`` to
        the row and logs a collapsing phase; with ``guard: stop`` keeps the best epoch by the
        monitor in ``best.pt`` and returns True when the phase must stop."""
        mode = self.cfg["monitor"]["guard"]
        if mode == "off":
            return False
        signals = phase_signals([*rows, row], phase.name, f"knn_top1@{self.cfg['monitor']['k'][0]}")
        verdict = judge(signals, GuardLimits.from_monitor(self.cfg["monitor"]))
        best = best_reading(signals)
        flags = torch.tensor([verdict.collapsing, best is not None and best[0] == row["epoch"]],
                             device=self.device, dtype=torch.float32)
        collapsing, improved = all_reduce(flags, self.env, "max").tolist()
        row["guard"] = str(verdict)
        if collapsing:
            self.console.log(f"[red]guard: phase {phase.name} ({phase.method['name']}) is collapsing at epoch "
                             f"{row['epoch']}: {'; '.join(verdict.reasons)}")
        if mode != "stop":
            return False
        if improved:
            self.save(row["epoch"], best_path(self.run_dir))
        if collapsing:
            kept = load_training_checkpoint(best_path(self.run_dir))
            unwrap(self.model).load_state_dict(kept["method"])
            broadcast_module(unwrap(self.model), self.env)
            row["guard"] += stopped_note(kept["epoch"])
            self.console.log(f"[red]guard: stopped phase {phase.name}; its encoder is epoch {kept['epoch']}'s, "
                             f"the best by the kNN monitor ({best_path(self.run_dir)})")
        return bool(collapsing)

    def fit(self, start_epoch: int, metrics: MetricsLog, last_epoch: int | None = None) -> None:
        """Train global epochs ``start_epoch .. last_epoch`` (default: the last); checkpoint and
        log after each."""
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=self.console, transient=True,
                            disable=not self.env.is_main)
        if start_epoch > self.total_epochs:
            self.console.log(f"all {self.total_epochs} epochs are already trained")
        stopped = 0  # the last epoch of a phase the guard stopped
        with progress:
            for epoch in range(start_epoch, min(last_epoch or self.total_epochs, self.total_epochs) + 1):
                phase = phase_at(self.phases, epoch)
                if epoch <= stopped:
                    continue
                if phase is not self.phase:
                    self.console.log(f"phase {phase.name}: {phase.method['name']} for {phase.epochs} "
                                     f"epochs, starting from the {self.current_phase.name} encoder")
                    self.setup_phase(phase, previous=self.method)
                start = self.guard_start(epoch, phase)
                row = {**self.train_epoch(epoch, progress), **start}
                if self.monitor_due(epoch):
                    if self.monitor is not None:
                        row.update(self.monitor.evaluate(self.method.encoder_q))
                    barrier(self.env)
                if self.guard_epoch(row, metrics.rows, phase):
                    stopped = phase.end
                metrics.log(row)
                self.save(max(epoch, stopped))
                self.console.log(_summary(row))

    def export_encoder(self, path: Path) -> None:
        """Rank 0 writes the query encoder for the evaluation commands, as the monitor exports it
        (``monitor.precise_bn``: BatchNorm statistics of the un-augmented training split)."""
        if not self.env.is_main:
            return
        encoder = self.method.encoder_q if self.monitor is None else self.monitor.exported(self.method.encoder_q)
        state = encoder_export(encoder.state_dict(), encoder_config(self.cfg),
                               stream=self.stream_name, method=self.current_phase.method["name"],
                               epochs=self.total_epochs, benchmark=self.benchmark,
                               dataset_info=self.dataset.info, config_hash=config_hash(self.cfg))
        save_checkpoint(state, path)


def _summary(row: Mapping) -> str:
    """One log line per epoch: loss, actionlet coverage, kNN, lr, throughput."""
    shown = [(k, v) for k, v in row.items() if k in ("loss", "actionlet_key") or k.startswith("knn_")]
    return "  ".join([f"epoch {row['epoch']} [{row['phase']} {row['phase_epoch']}]",
                      *(f"{k} {v:.4g}" for k, v in shown), f"lr {row['lr']:.3g}",
                      f"{row['samples_per_s']:.0f} samples/s", f"{row['epoch_time_s']:.1f} s"])


def run_pretraining(cfg: Mapping, data: str, run_dir: str | Path, resume: bool = False,
                    init: str | Path | None = None, force: bool = False, verify: bool = True,
                    monitor: MonitorFactory | None = None, stop_after: int | None = None) -> Trainer:
    """Pretrain with an effective configuration (see :func:`actclr.engine.config.build_config`).

    Joins the ``torchrun`` process group if there is one (and leaves it at the end). Writes
    ``RUN/encoder.pt`` and returns the trainer, whose ``method`` holds this rank's final weights.
    ``force``: resume even onto a dataset whose fingerprint differs from the checkpoint's.
    Nothing is written into ``run_dir`` before the dataset, the checkpoint and ``init`` are accepted.
    ``verify=False`` streams the shards without checking their sha256 against ``dataset.json``.
    ``monitor`` builds the monitor rank 0 runs every ``monitor.every`` epochs (``actclr-train
    pretrain`` passes :meth:`actclr.eval.monitor.KNNMonitor.from_config`); without one the logs
    have no monitor columns. ``stop_after``: train through that global epoch only (its checkpoint
    is ``last.pt``) and export nothing, unless it is the last epoch; a resume continues.
    """
    run_dir = Path(run_dir)
    env = init_distributed(cfg["train"]["device"])
    try:
        resuming = check_run_dir(run_dir, resume)
        barrier(env)  # every rank has looked before rank 0 writes anything
        rng.seed_everything(int(cfg["train"]["seed"]))  # identical model initialisation on all ranks
        dataset = open_dataset(data)
        trainer = Trainer(cfg, dataset, run_dir, env, verify=verify, monitor=monitor)
        if resuming:
            start = trainer.resume(last_path(run_dir), force=force) + 1
        else:
            trainer.setup_phase(trainer.phases[0])
            if init is not None:
                trainer.initialise_from(Path(init))
                broadcast_module(unwrap(trainer.model), env)
            trainer._reseed(0)
            start = 1
        if env.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, run_dir / "config.yaml")
            write_environment(run_dir, environment_record(env, cfg, dataset.info), resumed=resuming)
        metrics = MetricsLog(run_dir, enabled=env.is_main, resume_epoch=start - 1)
        try:
            trainer.fit(start, metrics, stop_after)
        finally:
            metrics.close()
        if stop_after is not None and stop_after < trainer.total_epochs:
            trainer.console.log(f"stopped after epoch {stop_after} of {trainer.total_epochs} "
                                "(--stop-after); --resume continues")
            return trainer
        trainer.export_encoder(run_dir / "encoder.pt")
        barrier(env)
        return trainer
    finally:
        shutdown(env)
