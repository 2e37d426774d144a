"""Benchmark: one ActCLR training step (CPU or CUDA), split into phases, against plain encoder passes.

The method is not modified: the bench wraps the functions a step calls (views, AdaIN, mix,
actionlet composite, actionlet masks, encoder passes, loss) with exclusive timers (a nested
timed call is subtracted from its caller), then times ``loss.backward()`` and the optimizer step.
Baselines in the same run and process:

* ``encoder fwd+bwd``: one query-encoder forward + backward on the same batch (the cost of a
  plain supervised/contrastive pass);
* ``compute floor``: what any implementation of the step must spend on the encoder: one
  forward+backward per query branch + the no-grad passes (key, one mask per masked view).

Two branch sets are measured by default: the official three branches (``1,2,3``: 3 fwd+bwd +
3 no-grad passes, a floor of about 3.8x one fwd+bwd) and the paper's single MATS stream (``2``:
one online view, ``A * AdaIN(X) + (1 - A) * Mix(AdaIN(X))``, 1 fwd+bwd + 2 no-grad passes).

On CUDA (``--device cuda``) every clock reading waits for the device first, so each phase is
charged with the kernels it launched (the synchronisations cost a little throughput).

Then (``--whole``, on by default) whole training steps (forward part, backward, SGD update) of
the demo recipe's two phases (MoCo v2 warm-up, ActCLR), at demo width (hidden 8, output 64) and
full width (the model defaults, 16 and 256), batch ``--whole-batch``: the graph convolutions
computed as before (``model.aggregation: partitions``) against the default (``auto``), and with
``--compile`` also the default with ``torch.compile``d backbones (its compile time: the first
steps minus as many eager ones, cold inductor cache). Same initial weights; the variants' steps
interleaved so that they see the same machine load; medians of process CPU time (which other
processes on a shared machine disturb far less than wall time; wall time is in the JSON too).

    python bench/step.py [--batch 32] [--repeats 3] [--threads 1] [--branches 1,2,3 --branches 2]
                         [--device cpu|cuda] [--out FILE] [--whole/--no-whole] [--whole-batch 8]
                         [--whole-steps 10] [--width demo --width full] [--compile] [--no-phases]
"""
from __future__ import annotations

import copy
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial, wraps
from pathlib import Path
from unittest import mock

import click
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import actclr.methods.actclr as actclr_module
from actclr.cli.lists import NumberList
from actclr.engine.config import build_config, defaults, encoder_config, phase_config
from actclr.engine.dist import select_device
from actclr.engine.rundir import device_record
from actclr.methods import build_method
from actclr.models import DEFAULTS as MODEL_DEFAULTS
from actclr.models import build_encoder
from actclr.store.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "step.json"
#: The recipe whose two phases the whole-step comparison runs.
DEMO_RECIPE = "mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo"
#: Encoder widths of the whole-step comparison: the demo recipe's own, and the model defaults.
WIDTHS = ("demo", "full")
#: Whole-step variants: ``(model.aggregation, compiled backbones)``.
VARIANTS = {"before": ("partitions", False), "default": ("auto", False), "compiled": ("auto", True)}
#: Functions of ``actclr.methods.actclr`` timed as a phase (module attribute -> phase).
MODULE_PHASES = {"actionlet_combine": "augmentation", "skeleton_adain": "augmentation",
                 "skeleton_mix": "augmentation", "upsample_mask": "augmentation",
                 "actionlet_mask": "actionlet", "safp_embedding": "no-grad forwards",
                 "similarity_mining_loss": "loss"}


#: Phases of the method's forward part, in table order.
PHASES = ("augmentation", "actionlet", "no-grad forwards", "query forwards", "loss")
#: Totals that are not phases of the method's forward part.
OUTSIDE = ("step (forward part)", "backward", "optimizer")


def clock(device: torch.device) -> Callable[[], float]:
    """``perf_counter`` that first waits for ``device``'s queued work (CUDA; plain on CPU)."""
    if device.type != "cuda":
        return time.perf_counter

    def now() -> float:
        torch.cuda.synchronize(device)
        return time.perf_counter()

    return now


class PhaseTimer:
    """Exclusive wall time per phase: time inside a nested timed call counts for the callee only."""

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self.now = now
        self.totals: dict = defaultdict(float)
        self._stack: list = []  # [phase, start, time spent in nested calls]

    def wrap(self, fn: Callable, phase: str | Callable[[], str]) -> Callable:
        """``fn`` timed as ``phase`` (a name, or a function returning it at call time)."""
        @wraps(fn)
        def timed(*args, **kwargs):
            self._stack.append([phase() if callable(phase) else phase, self.now(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, nested = self._stack.pop()
                elapsed = self.now() - start
                self.totals[name] += elapsed - nested
                if self._stack:
                    self._stack[-1][2] += elapsed

        return timed


def make_batch(n: int, seed: int = 0) -> torch.Tensor:
    """Smooth random skeleton sequences ``(N, 3, 50, 25, 2)``; every other second body empty."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 3, 1, 25, 2)) + np.cumsum(rng.normal(0, 0.01, (n, 3, 50, 25, 2)), axis=2)
    x[1::2, :, :, :, 1] = 0
    return torch.from_numpy(x.astype(np.float32))


def _grad_phase() -> str:
    """Query-encoder passes: with grad for the branches, without for the (official) masks."""
    return "query forwards" if torch.is_grad_enabled() else "no-grad forwards"


def instrument(method: torch.nn.Module, timer: PhaseTimer, stack: ExitStack) -> None:
    """Wrap the method's phases with ``timer`` for the lifetime of ``stack``."""
    for name, phase in MODULE_PHASES.items():
        stack.enter_context(mock.patch.object(actclr_module, name, timer.wrap(getattr(actclr_module, name), phase)))
    targets = [(method, "view", "augmentation"), (method, "query", "query forwards"),
               (method.encoder_k, "feature_map", "no-grad forwards"),
               (method.encoder_k, "embed", "no-grad forwards"),
               (method.encoder_q, "feature_map", _grad_phase)]
    for obj, attr, phase in targets:
        stack.enter_context(mock.patch.object(obj, attr, timer.wrap(getattr(obj, attr), phase)))


def actclr_step(method, optimizer, x: torch.Tensor, g: torch.Generator, timer: PhaseTimer) -> None:
    """One full training step with its phases recorded in ``timer``."""
    now = timer.now
    with ExitStack() as stack:
        instrument(method, timer, stack)
        start = now()
        loss, _ = method.training_step(x, 1, g)
        timer.totals["step (forward part)"] += now() - start
    start = now()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    timer.totals["backward"] += now() - start
    start = now()
    optimizer.step()
    timer.totals["optimizer"] += now() - start


def encoder_pass(encoder: torch.nn.Module, x: torch.Tensor) -> None:
    """One forward + backward of the query encoder (projector output, summed)."""
    encoder.zero_grad(set_to_none=True)
    encoder.embed(x).square().mean().backward()


def encoder_passes(branches: tuple) -> tuple[int, int]:
    """``(forward+backward passes, no-grad passes)`` a step with ``branches`` needs: one trained
    pass per branch; the key, the mask of ``q`` (branch 1) and the mask of ``p`` (branches 2, 3)."""
    return len(branches), 1 + (1 in branches) + bool({2, 3} & set(branches))


def compute_floor(encoder: torch.nn.Module, x: torch.Tensor, branches: tuple) -> None:
    """The encoder work of a step with ``branches`` (see :func:`encoder_passes`), nothing else."""
    trained, no_grad = encoder_passes(branches)
    for _ in range(trained):
        encoder_pass(encoder, x)
    with torch.no_grad():
        for _ in range(no_grad):
            encoder.feature_map(x)


def timed(fn: Callable[[], object], now: Callable[[], float]) -> float:
    start = now()
    fn()
    return now() - start


def measure(method, optimizer, x: torch.Tensor, g: torch.Generator, repeats: int) -> list:
    """``repeats`` rounds of (baseline, ActCLR step with phases, compute floor), interleaved so
    that the three see the same machine load; one warm-up round first."""
    encoder, now = method.encoder_q, clock(x.device)
    rounds = []
    for _ in range(repeats + 1):
        timer = PhaseTimer(now)
        baseline = timed(lambda: encoder_pass(encoder, x), now)
        step = timed(partial(actclr_step, method, optimizer, x, g, timer), now)
        floor = timed(lambda: compute_floor(encoder, x, method.options.branches), now)
        phases = {name: timer.totals.get(name, 0.0) for name in PHASES}
        phases["other (forward part)"] = timer.totals["step (forward part)"] - sum(
            v for k, v in timer.totals.items() if k not in OUTSIDE)
        phases.update(backward=timer.totals["backward"], optimizer=timer.totals["optimizer"])
        rounds.append({"baseline": baseline, "step": step, "floor": floor, "phases": phases})
    return rounds[1:]


def median(rounds: list, fn: Callable[[dict], float]) -> float:
    return statistics.median(fn(r) for r in rounds)


def bench_branches(branches: tuple, batch: int, repeats: int, threads: int, queue: int,
                   device: torch.device, console: Console) -> dict:
    """Measure the step with ``branches``; print its table and return its results."""
    torch.manual_seed(0)
    cfg = defaults()
    method_cfg = {**cfg["method"], "queue_size": queue, "topk": min(cfg["method"]["topk"], queue),
                  "branches": list(branches)}
    x = make_batch(batch).to(device)
    method = build_method("actclr", method_cfg, lambda: build_encoder(encoder_config(cfg)),
                          augmenter=cfg["augment"], average_motion=x.mean(0)).to(device).train()
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    rounds = measure(method, optimizer, x, torch.Generator(device=device).manual_seed(0), repeats)

    names = list(rounds[0]["phases"])
    phase_ms = {n: 1e3 * median(rounds, lambda r, n=n: r["phases"][n]) for n in names}
    phase_x = {n: median(rounds, lambda r, n=n: r["phases"][n] / r["baseline"]) for n in names}
    step_ms, floor_ms, base_ms = (1e3 * median(rounds, lambda r, k=k: r[k]) for k in ("step", "floor", "baseline"))
    encoder_work = ("no-grad forwards", "query forwards", "backward")
    other_ms = sum(v for k, v in phase_ms.items() if k not in encoder_work)
    ratios = {"step_to_baseline": median(rounds, lambda r: r["step"] / r["baseline"]),
              "floor_to_baseline": median(rounds, lambda r: r["floor"] / r["baseline"]),
              "step_to_floor": median(rounds, lambda r: r["step"] / r["floor"])}
    trained, no_grad = encoder_passes(branches)

    label = ",".join(map(str, branches))
    where = f"CUDA ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "CPU"
    table = Table(title=f"ActCLR training step, branches {label}, {where}, batch {batch}, {threads} thread(s), "
                        f"queue {queue}, median of {repeats}")
    for column in ("phase", "ms", "share of step", "x encoder fwd+bwd"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for name in names:
        table.add_row(name, f"{phase_ms[name]:.1f}", f"{100 * phase_ms[name] / step_ms:.0f}%", f"{phase_x[name]:.2f}")
    table.add_section()
    table.add_row(f"ActCLR step (branches {label})", f"{step_ms:.1f}", "100%", f"{ratios['step_to_baseline']:.2f}")
    table.add_row(f"compute floor ({trained} fwd+bwd + {no_grad} no-grad)", f"{floor_ms:.1f}", "",
                  f"{ratios['floor_to_baseline']:.2f}")
    table.add_row("encoder fwd+bwd (baseline)", f"{base_ms:.1f}", "", "1.00")
    console.print(table)
    console.print(f"step / compute floor: {ratios['step_to_floor']:.2f}; work outside encoder passes "
                  f"(augmentation, actionlet, loss, optimizer, other): {other_ms:.0f} ms = "
                  f"{100 * other_ms / step_ms:.1f}% of the step")
    return {"branches": list(branches), "step_ms": step_ms, "baseline_encoder_fwd_bwd_ms": base_ms,
            "compute_floor_ms": floor_ms, "floor_passes": {"fwd_bwd": trained, "no_grad": no_grad},
            "ratios": ratios, "phases_ms": phase_ms, "phases_x_baseline": phase_x,
            "non_encoder_ms": other_ms, "non_encoder_share": other_ms / step_ms}


def demo_method(phase: str, width: str, x: torch.Tensor, aggregation: str, compiled: bool) -> tuple:
    """``(method, optimizer)`` of the demo recipe's ``phase`` (``warmup``: MoCo v2, ``main``:
    ActCLR) at ``width`` with ``model.aggregation``, same initial weights for every variant (seed 0)."""
    cfg = build_config(DEMO_RECIPE)
    model = encoder_config(cfg)
    if width == "full":
        model.update({k: copy.deepcopy(MODEL_DEFAULTS[k]) for k in ("hidden_channels", "out_channels", "projector")})
    method_cfg = phase_config(cfg, phase)["method"]
    torch.manual_seed(0)
    method = build_method(method_cfg["name"], method_cfg, lambda: build_encoder({**model, "aggregation": aggregation}),
                          augmenter=cfg["augment"], average_motion=x.mean(0)).to(x.device).train()
    if compiled:  # nn.Module.compile: parameter names stay; shapes specialised, compiled at first use
        for encoder in (method.encoder_q, method.encoder_k):
            encoder.backbone.compile(dynamic=False)
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    return method, optimizer


def whole_step(method, optimizer, g: torch.Generator, x: torch.Tensor) -> tuple[float, float]:
    """``(CPU seconds of this process, wall seconds)`` of one training step (forward part,
    backward, SGD update)."""
    now = clock(x.device)
    cpu, wall = time.process_time(), now()
    loss, _ = method.training_step(x, 1, g)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.process_time() - cpu, now() - wall


def bench_whole(phase: str, width: str, batch: int, steps: int, variants: tuple, device: torch.device) -> dict:
    """Whole steps of one phase at one width for each of ``variants`` (keys of :data:`VARIANTS`):
    two warm-up steps each (compile time: the compiled variant's minus the default's), then
    ``steps`` rounds of one step per variant; medians."""
    x = make_batch(batch).to(device)
    runs = {name: (*demo_method(phase, width, x, *VARIANTS[name]), torch.Generator(device=device).manual_seed(0))
            for name in variants}
    warm = 2  # every graph of a step (grad / no-grad, BN splits, anchor) is compiled in its first two
    first = {name: sum(whole_step(*runs[name], x)[1] for _ in range(warm)) for name in runs}
    cpu: dict = {name: [] for name in runs}
    wall: dict = {name: [] for name in runs}
    for _ in range(steps):
        for name in runs:
            c, w = whole_step(*runs[name], x)
            cpu[name].append(c)
            wall[name].append(w)
    result = {"phase": phase, "method": runs[variants[0]][0].options.METHOD, "width": width, "batch": batch,
              "steps": steps, "variants": {}}
    for name in runs:
        ms = 1e3 * statistics.median(cpu[name])
        result["variants"][name] = {"cpu_ms": ms, "wall_ms": 1e3 * statistics.median(wall[name]),
                                    "samples_per_s": 1e3 * batch / ms}
    base = result["variants"][variants[0]]["cpu_ms"]
    for r in result["variants"].values():
        r["speedup"] = base / r["cpu_ms"]
    if "compiled" in runs:
        compile_s = first["compiled"] - first["default"]
        saved = (result["variants"]["default"]["wall_ms"] - result["variants"]["compiled"]["wall_ms"]) / 1e3
        result["variants"]["compiled"].update(compile_s=compile_s,
                                              break_even_steps=compile_s / saved if saved > 0 else None)
    return result


def whole_table(rows: list, threads: int) -> Table:
    """One row per phase and width: ms per step and samples/s of each variant, speed-ups."""
    variants = list(rows[0]["variants"])
    table = Table(title=f"Whole steps of the demo recipe's phases, {threads} thread(s), median CPU time of "
                        f"{rows[0]['steps']} interleaved steps per variant")
    columns = ["phase", "width", "batch"] + [f"{v} ms" for v in variants] + [f"{v} samples/s" for v in variants] \
        + [f"{v} speed-up" for v in variants[1:]] + (["compile s"] if "compiled" in variants else [])
    for column in columns:
        table.add_column(column, justify="left" if column in ("phase", "width") else "right")
    for r in rows:
        v = r["variants"]
        cells = [f"{r['phase']} ({r['method']})", r["width"], str(r["batch"])]
        cells += [f"{v[n]['cpu_ms']:.0f}" for n in variants] + [f"{v[n]['samples_per_s']:.1f}" for n in variants]
        cells += [f"{v[n]['speedup']:.2f}x" for n in variants[1:]]
        if "compiled" in variants:
            cells.append(f"{v['compiled']['compile_s']:.0f}")
        table.add_row(*cells)
    return table


@click.command()
@click.option("--batch", default=32, show_default=True, help="Sequences per step.")
@click.option("--repeats", default=3, show_default=True, help="Timed rounds (median) after one warm-up round.")
@click.option("--threads", default=1, show_default=True, help="torch.set_num_threads.")
@click.option("--queue", default=4096, show_default=True, help="Queue size (official 65536).")
@click.option("--branches", "branch_sets", multiple=True, default=("1,2,3", "2"), show_default=True,
              type=NumberList(what="branch numbers", minimum=1, noun="branch"),
              help="Branch set to measure (repeatable).")
@click.option("--device", type=click.Choice(("cpu", "cuda")), default="cpu", show_default=True,
              help="Where the step runs.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--phases/--no-phases", default=True, show_default=True,
              help="Time the phases of the ActCLR step for each branch set.")
@click.option("--whole/--no-whole", default=True, show_default=True,
              help="Also time whole demo-recipe steps, graph convs as before against the default.")
@click.option("--whole-batch", default=8, show_default=True, help="Batch of the whole steps.")
@click.option("--whole-steps", default=10, show_default=True, help="Timed whole steps per variant (median).")
@click.option("--width", "widths", multiple=True, type=click.Choice(WIDTHS), default=WIDTHS,
              show_default=True, help="Encoder width of the whole steps (repeatable).")
@click.option("--compile", "compiled", is_flag=True,
              help="Whole steps also with torch.compile'd backbones (cold compiles: minutes per phase).")
def main(batch: int, repeats: int, threads: int, queue: int, branch_sets: tuple, device: str, out: Path,
         phases: bool, whole: bool, whole_batch: int, whole_steps: int, widths: tuple, compiled: bool) -> None:
    torch.set_num_threads(threads)
    try:
        dev = select_device(device)
    except RuntimeError as err:  # CUDA asked for but absent: one line, no traceback
        raise click.ClickException(str(err)) from None
    console = Console()
    load = os.getloadavg()
    runs = [bench_branches(b, batch, repeats, threads, queue, dev, console) for b in branch_sets] if phases else []
    steps: list = []
    if whole:
        variants = ("before", "default", "compiled") if compiled else ("before", "default")
        with tempfile.TemporaryDirectory() as cache:  # cold compiles: no earlier run's kernels
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
            for width in widths:
                for phase in ("warmup", "main"):
                    steps.append(bench_whole(phase, width, whole_batch, whole_steps, variants, dev))
        console.print(whole_table(steps, threads))
    load_after = os.getloadavg()
    console.print(f"load average (1 min) before {load[0]:.1f}, after {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    write_json(out, {"batch": batch, "threads": threads, "repeats": repeats, "queue_size": queue,
                     **device_record(dev), "torch": torch.__version__,
                     "platform": platform.platform(), "runs": runs, "whole_steps": steps,
                     "load_average": {"before": load, "after": load_after}, "cpus": os.cpu_count()})
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
