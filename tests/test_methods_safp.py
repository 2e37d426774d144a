"""SAFP (Eq. 8) and the SAFP key embedding."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actclr.methods.safp import safp_embedding, safp_pool


def test_uniform_mask_equals_global_average_pooling():
    fmap = torch.randn(3, 2, 5, 4, 25)
    for value in (1.0, 0.3):
        pooled = safp_pool(fmap, torch.full((3, 2, 4, 25), value))
        torch.testing.assert_close(pooled, fmap.mean(dim=(1, 3, 4)), rtol=1e-4, atol=1e-5)


def test_mask_selects_cells_per_body_then_averages_bodies():
    fmap = torch.zeros(1, 2, 1, 2, 3)
    fmap[0, 0, 0] = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    fmap[0, 1, 0] = 10.0
    mask = torch.zeros(1, 2, 2, 3)
    mask[0, 0, 1, 2] = 1.0  # body 0: only the cell holding 6
    mask[0, 0, 0, 0] = 1.0  # ... and the cell holding 1
    mask[0, 1] = 0.5  # body 1: uniform
    pooled = safp_pool(fmap, mask, eps=0.0)
    assert pooled.item() == pytest.approx(((1 + 6) / 2 + 10) / 2)


def test_safp_rejects_mismatched_mask():
    with pytest.raises(ValueError, match=r"\(N, M, T', V\)"):
        safp_pool(torch.randn(2, 2, 4, 3, 25), torch.ones(2, 2, 4, 25))


def test_safp_embedding_blends_projections():
    projector = nn.Linear(4, 3)
    fmap = torch.randn(2, 2, 4, 3, 5)
    mask = (torch.rand(2, 2, 3, 5) > 0.5).float()
    gap = fmap.mean(dim=(1, 3, 4))
    pure = safp_embedding(projector, gap, fmap, mask, blend=0.0)
    torch.testing.assert_close(pure, F.normalize(projector(safp_pool(fmap, mask)), dim=1))
    half = safp_embedding(projector, gap, fmap, mask, blend=0.5)
    expected = F.normalize(0.5 * projector(gap) + 0.5 * projector(safp_pool(fmap, mask)), dim=1)
    torch.testing.assert_close(half, expected)
    with pytest.raises(ValueError, match="blend"):
        safp_embedding(projector, gap, fmap, mask, blend=1.5)
