"""Linear probe on cached features, model selection, recipes and kNN votes on known features."""
from __future__ import annotations

import pytest
import torch

from actclr.eval.knn import knn_predict
from actclr.eval.linear import train_probe
from actclr.eval.recipes import FINETUNE_RECIPE, LINEAR_RECIPE, SGDRecipe


def _blobs(n_per_class=20, classes=3, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(classes, dim) * 4
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[y] + 0.3 * torch.randn(len(y), dim, generator=g), y


def test_official_recipes():
    official = (LINEAR_RECIPE.lr, LINEAR_RECIPE.batch_size, LINEAR_RECIPE.epochs, LINEAR_RECIPE.milestones)
    assert official == (24.0, 1024, 100, (80,))
    assert LINEAR_RECIPE.momentum == 0.9 and LINEAR_RECIPE.weight_decay == 0.0
    assert FINETUNE_RECIPE.nesterov and FINETUNE_RECIPE.milestones == (10, 50) and FINETUNE_RECIPE.weight_decay == 1e-4
    assert LINEAR_RECIPE.with_epochs(20).milestones == (16,)


def test_probe_learns_separable_features_and_keeps_last_epoch_without_validation():
    x, y = _blobs()
    recipe = SGDRecipe(epochs=15, lr=1.0, batch_size=16, milestones=(10,))
    rows = []
    head, fit = train_probe(x, y, 3, recipe, seed=0, on_epoch=rows.append)
    assert fit.selected_epoch == 15 and fit.selected_val_top1 is None
    assert [r["epoch"] for r in rows] == list(range(1, 16))
    assert rows[-1]["lr"] == pytest.approx(0.1) and rows[0]["lr"] == 1.0
    assert (head(x).argmax(1) == y).float().mean() == 1.0


def test_probe_restores_the_epoch_selected_on_validation():
    x, y = _blobs()
    recipe = SGDRecipe(epochs=6, lr=1.0, batch_size=16, milestones=(5,))
    wrong = ((y + 1) % 3).numpy()  # validation labels that the training makes ever less likely
    head, fit = train_probe(x, y, 3, recipe, seed=0, val_x=x, val_y=wrong)
    best = max(fit.curve, key=lambda r: (r["val_top1"], -r["epoch"]))
    assert fit.selected_epoch == best["epoch"] < 6
    assert fit.selected_val_top1 == best["val_top1"]
    shorter = SGDRecipe(epochs=fit.selected_epoch, lr=1.0, batch_size=16, milestones=(5,))
    short, _ = train_probe(x, y, 3, shorter, seed=0)
    torch.testing.assert_close(head.weight, short.weight)  # the selected epoch's weights, not the last


def test_knn_weighted_vote_prefers_a_close_neighbour_over_a_far_majority():
    bank = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # query: cosine 0.99 to the class-1 point, ~0.14 to the class-0 points
    query = torch.tensor([[0.14, 0.99]])
    scores = knn_predict(bank, labels, query, k=3, t=0.1, num_classes=2)
    assert scores.argmax(1).item() == 1
    sims = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(bank, dim=1).T
    expected = torch.stack([(sims[0, :2] / 0.1).exp().sum(), (sims[0, 2] / 0.1).exp()])
    torch.testing.assert_close(scores[0], expected)
    k1 = knn_predict(bank, labels, torch.tensor([[1.0, 0.05]]), k=1, t=0.1, num_classes=2)
    assert k1.argmax(1).item() == 0 and (k1[0] > 0).sum() == 1
