"""CPU vs CUDA agreement and the CUDA-only paths (marker ``cuda``, skipped without CUDA).

On a CUDA machine ``scripts/gpu-check.sh`` runs these (``pytest -m cuda``). Each check computes
the same thing on the CPU and on ``TARGET`` from the same inputs, weights and random draws (a
CUDA generator draws other numbers than a CPU one, so the device runs take their draws from CPU
generators through :class:`~device_helpers.cpu_draws`) and compares them in float32 with TF32
off. ``ACTCLR_TEST_DEVICE=cpu pytest -m cuda`` runs the comparisons CPU against CPU, which
checks the tests themselves; the pinned-memory and AMP checks then test the CPU fallbacks
(no pinning, no autocast) and the process group is gloo instead of NCCL. See ``docs/gpu.md``.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.distributed as tdist
from augment_helpers import gen, skeletons
from device_helpers import CUDA_MISSING, TARGET, cpu_draws, relative_error, target_available
from methods_helpers import batch, make, tiny_encoder
from test_pretrain_run import DEMO, OVERRIDES
from torch import Tensor, nn

from actclr.augment import STREAMS, TRANSFORMS, build_augmenter, get_transform, official_config, skeleton_mix, to_stream
from actclr.data import ShardStream, make_loader, to_device
from actclr.engine.config import build_config
from actclr.engine.dist import DistEnv, join_process_group
from actclr.engine.trainer import AMP_DTYPES, _ddp, run_pretraining
from actclr.methods.actionlet import actionlet_mask
from actclr.methods.moco import Queue, batch_shuffle_ddp, batch_unshuffle_ddp, concat_all_gather
from actclr.models import build_encoder

CPU = torch.device("cpu")

#: Tolerances, measured against the difference between two CPU kernel sets (the same code under
#: ``ATEN_CPU_CAPABILITY=default`` vs AVX2), which is of the same nature as a device's other
#: summation order; a wrong index, mask, weight or view is off by the values' own size.
#: Augmentations (few dozen float32 operations per value): 2.2e-7 of the largest value measured.
AUGMENT_RTOL = 1e-5
#: Encoder outputs, BN statistics, losses and logs (through 10 layers, tau_k = 0.04): 1.6e-5.
VALUE_RTOL = 1e-3
#: Gradients, and weights after SGD steps, are worse conditioned (BatchNorm's backward subtracts
#: means; the bias of a convolution followed by BatchNorm has an exactly zero gradient, so its
#: computed value is rounding noise): the norm of the difference of all of them over their norm
#: measured 1e-3 (ActCLR on the tiny encoder), one tensor's (floored at 1e-3 of the largest
#: norm) 1.7e-2.
GRADIENT_RTOL, TENSOR_RTOL = 1e-2, 1e-1
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def on_target(test):
    """Mark ``test`` ``cuda`` and skip it (before its fixtures are built) without ``TARGET``."""
    return pytest.mark.cuda(pytest.mark.skipif(not target_available(), reason=CUDA_MISSING)(test))


@pytest.fixture
def target():
    """``TARGET`` with exact float32 matmuls and convolutions (no TF32)."""
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield TARGET
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def split(values: dict[str, Tensor]) -> tuple[dict, dict]:
    """``(floating-point tensors, the others)`` of ``values``."""
    floats = {k: v for k, v in values.items() if v.is_floating_point()}
    return floats, {k: v for k, v in values.items() if k not in floats}


def assert_same_kind(actual: dict[str, Tensor], expected: dict[str, Tensor], device: torch.device) -> None:
    """Same keys, dtypes and devices; integer and bool tensors equal."""
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype and actual[key].device.type == device.type, key
        if not value.is_floating_point():
            assert torch.equal(actual[key].cpu(), value), key


def assert_values(actual: dict[str, Tensor], expected: dict[str, Tensor], rtol: float,
                  device: torch.device) -> None:
    """:func:`assert_same_kind`, and every float tensor within ``rtol`` of its largest value."""
    assert_same_kind(actual, expected, device)
    errors = {k: relative_error(actual[k], v) for k, v in split(expected)[0].items()}
    failing = {k: f"{v:.2e}" for k, v in errors.items() if not v <= rtol}
    assert not failing, f"relative error above {rtol:g}: {failing}"


def assert_gradients(actual: dict[str, Tensor], expected: dict[str, Tensor], device: torch.device) -> None:
    """:func:`assert_same_kind`; all float tensors together within ``GRADIENT_RTOL`` (norm of the
    difference over the norm), each within ``TENSOR_RTOL`` of its norm (at least 1e-3 of the
    largest tensor norm, so that rounding noise in a zero gradient passes)."""
    assert_same_kind(actual, expected, device)
    floats = split(expected)[0]
    diff = {k: (actual[k].detach().cpu().double() - v.double()).norm() for k, v in floats.items()}
    norm = {k: v.double().norm() for k, v in floats.items()}
    total = float(torch.stack(list(diff.values())).norm() / torch.stack(list(norm.values())).norm())
    assert total <= GRADIENT_RTOL, f"relative error of all {len(floats)} tensors {total:.2e} > {GRADIENT_RTOL:g}"
    floor = 1e-3 * max(norm.values())
    failing = {k: f"{float(diff[k] / max(norm[k], floor)):.2e}" for k in floats
               if not diff[k] <= TENSOR_RTOL * max(norm[k], floor)}
    assert not failing, f"relative error above {TENSOR_RTOL:g}: {failing}"


def parts(values: dict[str, Tensor], *prefixes: str) -> dict[str, Tensor]:
    """The entries of ``values`` whose key starts with one of ``prefixes``."""
    return {k: v for k, v in values.items() if k.startswith(prefixes)}


def test_cpu_draws_moves_the_draws_of_cpu_generators():
    """The helper itself (runs everywhere): draws on the meta device come from the CPU generator."""
    calls = [lambda g, d: torch.rand(3, 2, generator=g, device=d, dtype=torch.float64),
             lambda g, d: torch.randn((4,), generator=g, device=d),
             lambda g, d: torch.randint(1, 5, (6,), generator=g, device=d),
             lambda g, d: torch.randperm(7, generator=g, device=d)]
    for call in calls:
        moved, reference = gen(3), gen(3)
        with cpu_draws():
            out = call(moved, "meta")
        expected = call(reference, "cpu")
        assert out.device.type == "meta" and out.shape == expected.shape and out.dtype == expected.dtype
        assert torch.equal(moved.get_state(), reference.get_state())  # the same numbers were drawn
        assert not torch.equal(moved.get_state(), gen(3).get_state())


# ------------------------------------------------------------------------- augmentations
#: Every transform with its defaults, plus the non-default modes.
AUGMENT_CASES = [(name, {}) for name in TRANSFORMS] + [
    ("crop", {"mode": "resize"}), ("crop", {"padding": "edge"}), ("flip", {"mirror": True}),
    ("rotate", {"symmetric": True}), ("blur", {"normalize": False, "padding": "zeros"}),
    ("adain", {"variant": "bone_length"})]


def augment_outputs(device: torch.device) -> dict[str, Tensor]:
    """Every transform, the official views (fused) at a curriculum epoch of each stage, Skeleton
    Mix with its masks and the three streams of one batch on ``device``, all from CPU draws."""
    x = skeletons(16).to(device)
    x[1::2, ..., 1] = 0  # every other sequence has a single body, as in NTU
    out = {}
    augmenter = build_augmenter(official_config())
    with cpu_draws():
        for i, (name, params) in enumerate(AUGMENT_CASES):
            out[f"{name} {params}"] = get_transform(name)(x, gen(i), **params)
        for epoch in (1, 150, 250, 320):
            for view in augmenter.names:
                out[f"view {view} epoch {epoch}"] = augmenter.view(view, x, gen(epoch), epoch)
        out.update({f"mix {key}": value for key, value in skeleton_mix(x, gen(99))._asdict().items()})
    out.update({f"stream {stream}": to_stream(x, stream) for stream in STREAMS})
    return out


def check_augmentations(device: torch.device) -> None:
    assert_values(augment_outputs(device), augment_outputs(CPU), AUGMENT_RTOL, device)
    # with the device's own generator: finite and reproducible from the seed (up to rounding: a
    # GPU kernel need not be bitwise deterministic)
    augmenter = build_augmenter(official_config())
    x = skeletons(16).to(device)
    views = [augmenter(x, torch.Generator(device=device).manual_seed(0), epoch=1) for _ in range(2)]
    for name, view in views[0].items():
        assert view.shape == x.shape and torch.isfinite(view).all()
        assert relative_error(view, views[1][name]) <= AUGMENT_RTOL


@on_target
def test_augmentations_agree_with_the_cpu(target):
    check_augmentations(target)


# ------------------------------------------------------------------------- encoder
def encoder_outputs(device: torch.device) -> dict[str, Tensor]:
    """The default-width encoder (default init, no dropout), train mode: feature map, embedding,
    every parameter gradient of a loss on the embedding, BN running statistics, then the
    eval-mode features and the actionlet (soft map) of the feature map."""
    torch.manual_seed(0)
    encoder = build_encoder({"dropout": 0.0})
    for module in encoder.modules():  # healthy activations (the official init gives ~1e-3 norms)
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.reset_parameters()
    encoder.to(device).train()
    x = skeletons(8).to(device)
    fmap = encoder.feature_map(x)
    z = encoder.project(encoder.pool(fmap))
    z.square().sum().backward()
    out = {"feature map": fmap.detach(), "embedding": z.detach()}
    out.update({f"grad {name}": p.grad for name, p in encoder.named_parameters()})
    out.update({f"buffer {name}": b for name, b in encoder.named_buffers()})
    with torch.no_grad():
        out["eval features"] = encoder.eval()(x)
        anchor = encoder.embed(x.mean(0, keepdim=True))[0]
        out["actionlet soft"] = actionlet_mask(fmap.detach(), encoder.projector, anchor, threshold=None)
    return out


def check_encoder(device: torch.device) -> None:
    actual, expected = encoder_outputs(device), encoder_outputs(CPU)
    values = [k for k in expected if not k.startswith("grad ")]
    assert_values({k: actual[k] for k in values}, {k: expected[k] for k in values}, VALUE_RTOL, device)
    assert_gradients(parts(actual, "grad "), parts(expected, "grad "), device)
    # The paper's binary actionlet thresholds the soft map at 0.5: a cell may flip only where the
    # two devices' soft maps straddle the threshold.
    soft, soft_cpu = actual["actionlet soft"].cpu(), expected["actionlet soft"]
    flipped = (soft >= 0.5) != (soft_cpu >= 0.5)
    assert ((soft_cpu[flipped] - 0.5).abs() <= 2 * VALUE_RTOL).all()


@on_target
def test_encoder_agrees_with_the_cpu(target):
    check_encoder(target)


# ------------------------------------------------------------------------- one method step
#: Methods and options compared: MoCo v2 and ActCLR with the soft actionlet (the binary
#: threshold is a step function: one cell straddling it would change the views, see above).
STEP_CASES = {"mocov2": {}, "actclr": {"threshold": None}, "actclr bank queue+batch": {"threshold": None,
                                                                                        "bank": "queue+batch"}}


def step_outputs(case: str, device: torch.device) -> dict[str, Tensor]:
    """Two SGD steps of a method on the tiny encoder (same weights, queue and view draws):
    both steps' logs, the first step's gradients, then every parameter and buffer."""
    method = make(case.split()[0], seed=0, **STEP_CASES[case]).to(device).train()
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    x = batch(8, frames=20, seed=1).to(device)
    out = {}
    with cpu_draws():
        for step in (1, 2):
            optimizer.zero_grad(set_to_none=True)
            loss, logs = method.training_step(x, 1, gen(10 + step))
            loss.backward()
            out.update({f"step {step} {key}": torch.tensor(value) for key, value in logs.items()})
            if step == 1:
                out.update({f"grad {name}": p.grad.clone() for name, p in method.encoder_q.named_parameters()})
            optimizer.step()
    out.update({f"state {key}": value for key, value in method.state_dict().items()})
    return out


#: Logs that count an argmax (a near tie may flip it on another device): checked finite only.
DISCRETE_LOGS = ("top1_positive",)


def check_step(case: str, device: torch.device) -> None:
    actual, expected = step_outputs(case, device), step_outputs(case, CPU)
    logs = [k for k in parts(expected, "step ") if not k.endswith(DISCRETE_LOGS)]
    assert_values({k: actual[k] for k in logs}, {k: expected[k] for k in logs}, VALUE_RTOL, CPU)  # floats
    assert all(math.isfinite(float(v)) for v in parts(expected, "step ").values())
    assert_gradients(parts(actual, "grad "), parts(expected, "grad "), device)
    assert_gradients(parts(actual, "state "), parts(expected, "state "), device)


@on_target
@pytest.mark.parametrize("case", list(STEP_CASES))
def test_method_step_agrees_with_the_cpu(case, target):
    check_step(case, target)


# ------------------------------------------------------------------------- AMP in the trainer
@on_target
@pytest.mark.parametrize("amp, channels_last", [("bf16", False), ("fp16", True)])
def test_amp_training_runs_finite_steps(amp, channels_last, target, synth_dataset, tmp_path, monkeypatch):
    """``train.amp`` through the trainer: the convolutions run in the AMP dtype (float32 off
    CUDA, where AMP is off), fp16 uses the gradient scaler, losses and weights stay finite and
    the query encoder is updated."""
    cfg = build_config(DEMO, {"train.epochs": 1, "data.batch_size": 4, "train.device": target.type,
                              "train.amp": amp, "train.channels_last": channels_last},
                       OVERRIDES + ("data.samples_per_epoch=32",))
    seen: set = set()

    def record(module, args, output):
        if isinstance(module, nn.Conv2d):
            seen.add(output.dtype)

    handle = nn.modules.module.register_module_forward_hook(record)
    try:
        trainer = run_pretraining(cfg, data=str(synth_dataset), run_dir=tmp_path / "run")
    finally:
        handle.remove()
    cuda = target.type == "cuda"
    assert trainer.device.type == target.type
    assert (AMP_DTYPES[amp] if cuda else torch.float32) in seen
    assert trainer.scaler.is_enabled() == (cuda and amp == "fp16")
    if trainer.scaler.is_enabled():
        assert math.isfinite(trainer.scaler.get_scale()) and trainer.scaler.get_scale() > 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(math.isfinite(r["loss"]) for r in rows)
    method = trainer.method
    assert all(torch.isfinite(p).all() for p in method.parameters())
    # the key encoder is an EMA of the query encoder: it moves only if the query was stepped
    assert any(not torch.equal(q, k) for q, k in zip(method.encoder_q.parameters(), method.encoder_k.parameters()))


# ------------------------------------------------------------------------- pinned-memory loader
def check_loader(device: torch.device, dataset) -> None:
    """Batches of the loader for ``device`` are pinned exactly on CUDA; their non-blocking copies
    (host batches dropped right away, loading goes on) equal the batches of a CPU loader."""
    def stream():
        return ShardStream.from_dataset_dir(dataset, "xview", "train", 8, seed=0, rank=0, world_size=1)

    expected = list(make_loader(stream(), CPU, num_workers=2, seed=0))
    moved, pinned = [], []
    for host in make_loader(stream(), device, num_workers=2, seed=0):
        pinned.append(host.x.is_pinned())
        moved.append(to_device(host, device))
        del host
    synchronize(device)
    assert pinned == [device.type == "cuda"] * len(expected) and len(expected) > 1
    for got, want in zip(moved, expected):
        assert got.x.device.type == device.type and torch.equal(got.x.cpu(), want.x)
        assert torch.equal(got.y.cpu(), want.y) and list(got.keys) == list(want.keys)


@on_target
def test_pinned_loader_copies_arrive_intact(target, synth_dataset):
    check_loader(target, synth_dataset)


# ------------------------------------------------------------------------- process group of one
def check_process_group(device: torch.device, init_file) -> None:
    """A one-process group from ``actclr.engine.dist`` (NCCL on CUDA, gloo on CPU) runs the
    gathered enqueue, shuffle-BN and a DDP-wrapped ActCLR step on ``device``."""
    join_process_group(device, rank=0, world_size=1, timeout_minutes=2, init_method=f"file://{init_file}")
    try:
        assert tdist.get_backend() == ("nccl" if device.type == "cuda" else "gloo")
        keys = torch.nn.functional.normalize(torch.randn(6, 8, generator=gen(0)), dim=1).to(device)
        assert torch.equal(concat_all_gather(keys), keys)
        queue = Queue(dim=8, size=4).to(device)
        queue.enqueue(keys)  # 6 gathered keys, 4 slots: the newest 4, oldest slot next
        assert torch.equal(queue.embeddings, keys[[4, 5, 2, 3]]) and int(queue.ptr) == 2

        g = torch.Generator(device=device).manual_seed(0)
        shuffled, unshuffle = batch_shuffle_ddp(keys, g)
        assert torch.equal(shuffled[unshuffle], keys)
        assert torch.equal(batch_unshuffle_ddp(2 * shuffled, unshuffle), 2 * keys)
        encoder = tiny_encoder().to(device).train()
        x = batch(8, frames=20).to(device)
        with torch.no_grad():  # a shuffled key forward: BatchNorm statistics ignore the order
            plain = encoder.feature_map(x)
            shuffled_x, unshuffle = batch_shuffle_ddp(x, g)
            keyed = batch_unshuffle_ddp(encoder.feature_map(shuffled_x), unshuffle)
        assert relative_error(keyed, plain) <= VALUE_RTOL

        method = make("actclr").to(device).train()
        model = _ddp(method, DistEnv(rank=0, world_size=1, local_rank=0, device=device))
        loss, logs = model(x, 1, g)
        loss.backward()
        assert math.isfinite(loss.item()) and int(method.queue.ptr) == x.shape[0]
        assert all(torch.isfinite(p.grad).all() for p in method.encoder_q.parameters())
    finally:
        tdist.destroy_process_group()


@on_target
def test_process_group_of_one_runs_the_collectives(target, tmp_path):
    check_process_group(target, tmp_path / "init")
