"""ActCLR's ablation options (paper Tables 7-9): each changes what the step trains on or pools.

The branch inputs are recorded at the online encoder and compared with views re-drawn from a
generator with the same seed in the step's draw order (the mask forwards draw nothing from it).
"""
from __future__ import annotations

import pytest
import torch
from methods_helpers import assert_only_query_gradients, batch, make

from actclr.augment import actionlet_combine, skeleton_adain, to_stream
from actclr.methods import ActCLROptions
from actclr.methods import actclr as actclr_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SEED = 3


def run(**options):
    """One step: ``(method, x, branch inputs in order, MATS masks in order, logs)``."""
    method = make("actclr", topk=16, **options)
    inputs, masks = [], []
    query, mats_mask = method._query, method._mats_mask
    method._query = lambda x, anchor: (inputs.append(x.detach().clone()), query(x, anchor))[1]
    method._mats_mask = lambda x, anchor: (masks.append(mats := mats_mask(x, anchor)), mats)[1]
    x = batch()
    loss, logs = method(x, 1, torch.Generator().manual_seed(SEED))
    loss.backward()
    assert_only_query_gradients(method)
    return method, x, inputs, masks, logs


def redraw(method, x, views):
    """The generator and the views ``views`` drawn from it as the step draws them."""
    g = torch.Generator().manual_seed(SEED)
    return g, [method.view(name, x, g, 1) for name in views]


def test_default_branch_inputs_are_the_actionlet_combinations_of_eq_7():
    method, x, inputs, masks, logs = run()
    g, (_, p, q, e) = redraw(method, x, ["weak", "weak", "normal", "extreme"])
    assert len(inputs) == 3 and len(masks) == 2 and {"loss_b1", "loss_b2", "loss_b3"} <= set(logs)
    assert torch.equal(inputs[0], actionlet_combine(q, e, masks[0]))
    styled = skeleton_adain(p, g)
    mixed = method._mix(styled, g, 1, late=True).x
    assert torch.equal(inputs[1], actionlet_combine(styled, mixed, masks[1]))
    # the actionlet keeps part of the normal / styled view: not the strong view everywhere
    assert (inputs[0] - e).abs().max() > 1e-3 and (inputs[1] - mixed).abs().max() > 1e-3


def test_full_area_regions_put_the_non_actionlet_transforms_on_the_whole_skeleton():
    method, x, inputs, masks, logs = run(extreme_region="full")
    _, (_, _, e) = redraw(method, x, ["weak", "weak", "extreme"])  # no normal view is drawn
    assert torch.equal(inputs[0], e) and len(masks) == 1 and "actionlet_q" not in logs
    method, x, inputs, masks, _ = run(mix_region="full")
    g, (_, p, _, _) = redraw(method, x, ["weak", "weak", "normal", "extreme"])
    mixed = method._mix(skeleton_adain(p, g), g, 1, late=True).x
    assert torch.equal(inputs[1], mixed) and len(masks) == 2  # branch 3 still needs A_p


def test_transform_ablations_of_table_8_remove_the_transforms_they_name():
    method, x, inputs, masks, logs = run(transforms="no_non_actionlet")
    g, (_, p, q) = redraw(method, x, ["weak", "weak", "normal"])  # no extreme view
    assert len(inputs) == 2 and "loss_b3" not in logs and not masks  # branch 3 is Mix alone
    assert torch.equal(inputs[0], q) and torch.equal(inputs[1], skeleton_adain(p, g))
    method, x, inputs, _, _ = run(transforms="actionlet_only")
    _, (_, p, q) = redraw(method, x, ["weak", "weak", "normal"])
    assert torch.equal(inputs[0], q) and torch.equal(inputs[1], p)  # no AdaIN either
    method, x, inputs, _, logs = run(transforms="none")
    raw = to_stream(x, "joint")
    assert len(inputs) == 2 and all(torch.equal(i, raw) for i in inputs)
    assert logs["loss"] == pytest.approx(logs["loss_b1"] + logs["loss_b2"], rel=1e-5)


def test_safp_side_decides_which_embeddings_pool_the_actionlet(monkeypatch):
    calls = []
    safp = actclr_module.safp_embedding
    monkeypatch.setattr(actclr_module, "safp_embedding",
                        lambda projector, *args: (calls.append(projector), safp(projector, *args))[1])
    for side, key_calls, query_calls in (("key", 1, 0), ("none", 0, 0), ("query", 0, 3), ("both", 1, 3)):
        calls.clear()
        method, *_ = run(safp=side)
        assert sum(c is method.encoder_k.projector for c in calls) == key_calls, side
        assert sum(c is method.encoder_q.projector for c in calls) == query_calls, side
    # the pooling changes the key: the enqueued keys of one step differ between key and none
    keys = {side: run(safp=side)[0].queue.embeddings[:4] for side in ("key", "none")}
    assert (keys["key"] - keys["none"]).abs().max() > 1e-4


@pytest.mark.parametrize("bad", [{"transforms": "some"}, {"extreme_region": "actionlet"},
                                 {"safp": "offline"}, {"branches": (3,), "transforms": "none"}])
def test_ablation_options_reject_what_they_do_not_know(bad):
    with pytest.raises(ValueError, match="method option"):
        ActCLROptions(**bad)
