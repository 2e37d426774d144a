"""Unsupervised actionlets (paper Eq. 3-5): difference activation maps against the static anchor.

A sequence's dense features ``h (N, M, C, T', V)`` are pooled and projected, ``z = P(GAP(h))``,
and compared with the anchor's embedding by cosine similarity (Eq. 3). The gradient of
``-sim`` with respect to ``h`` gives channel weights ``alpha_c`` (Eq. 4); the map
``sigma(sum_c alpha_c h_c)`` smoothed over the skeleton (Eq. 5) is the actionlet.

Because ``z`` depends on ``h`` only through global average pooling, ``dsim/dh_{mctv}`` equals
``dsim/dpooled_c / (M T' V)`` at every (m, t, v): only the projector's Jacobian is needed. It is
taken with :func:`torch.autograd.grad` on detached copies of the projector's parameters, so no
backward runs through the encoder and no ``.grad`` is ever left on parameters (DDP-safe).
"""
from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from actclr.constants import ACTIVATIONS, GRAD_ACTIVATIONS, SMOOTHING
from actclr.skeleton import BODY_PARTS, NUM_JOINTS

__all__ = ["ACTIVATIONS", "GRAD_ACTIVATIONS", "SMOOTHING", "actionlet_mask"]


@cache
def _smoothing_matrix(kind: str) -> Tensor | None:
    """``(V, V)`` matrix ``S`` applied as ``A @ S`` over joints (CPU, read-only), or ``None``.

    ``graph``: the encoder's normalised skeleton adjacency ``G_vv`` (paper Eq. 5).
    ``parts``: ``S[v, w] = 1/|part|`` within each of the five body parts (official code).
    """
    if kind == "graph":
        from actclr.models.graph import adjacency

        return torch.as_tensor(adjacency(normalize=True), dtype=torch.float32)
    if kind == "parts":
        matrix = torch.zeros(NUM_JOINTS, NUM_JOINTS)
        for part in BODY_PARTS:
            index = torch.tensor(part)
            matrix[index[:, None], index[None, :]] = 1.0 / len(part)
        return matrix
    if kind == "none":
        return None
    raise ValueError(f"unknown actionlet smoothing {kind!r}; choose one of {', '.join(SMOOTHING)}")


def difference_gradient(pooled: Tensor, projector: nn.Module, anchor_embedding: Tensor) -> Tensor:
    """``d(-sum_n sim(P(pooled_n), anchor)) / d pooled`` -> ``(N, C)`` (per-sample gradients).

    ``pooled (N, C)`` are globally pooled features, ``anchor_embedding (D,)`` the anchor's
    projector output. Only the projector is differentiated, with detached parameters.
    """
    params = {name: p.detach() for name, p in projector.named_parameters()}
    buffers = dict(projector.named_buffers())
    with torch.enable_grad():
        features = pooled.detach().requires_grad_(True)
        z = functional_call(projector, (params, buffers), (features,))
        sim = F.cosine_similarity(z, anchor_embedding.detach().reshape(1, -1), dim=1)
        (grad,) = torch.autograd.grad(-sim.sum(), features)
    return grad


def actionlet_mask(fmap: Tensor, projector: nn.Module, anchor_embedding: Tensor, *,
                   smoothing: str = "graph", activation: str = "threshold",
                   threshold: float | None = 0.5, gain: float = 1e8,
                   grad_activation: str = "relu") -> Tensor:
    """Actionlet of each body, ``fmap (N, M, C, T', V)`` -> ``(N, M, T', V)`` in [0, 1], no grad.

    Args:
        fmap: dense features of the sequences (last encoder map, before pooling).
        projector: the same encoder's projection head, ``(N, C) -> (N, D)``.
        anchor_embedding: ``(D,)`` projector output of the static anchor (average motion).
        smoothing: ``graph`` (paper, normalised adjacency), ``parts`` (official, mean within the
            5 body parts) or ``none``.
        activation: ``threshold`` (paper): the smoothed map is divided by its per-sample maximum
            (over bodies, time and joints) and thresholded; ``gain_clip`` (official): the map is
            scaled like the official code (batch-mean similarity, channel mean) times ``gain``
            and clipped to [0, 1], a soft mask whose scale depends on the batch size.
        threshold: for ``threshold``: keep cells at or above this fraction of the sample's
            maximum (binary mask); ``None`` returns the max-normalised soft map. A sample whose
            map is zero everywhere gets a mask of ones (no actionlet found: whole skeleton).
        gain: for ``gain_clip`` (official 1e8).
        grad_activation: sigma of Eq. 4 on the gradient: ``relu`` (paper) or ``none`` (official).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown actionlet activation {activation!r}; "
                         f"choose one of {', '.join(ACTIVATIONS)}")
    if grad_activation not in GRAD_ACTIVATIONS:
        raise ValueError(f"unknown grad_activation {grad_activation!r}; "
                         f"choose one of {', '.join(GRAD_ACTIVATIONS)}")
    if fmap.ndim != 5:
        raise ValueError(f"feature map must be (N, M, C, T', V), got {tuple(fmap.shape)}")
    fmap = fmap.detach()
    n, bodies, channels, frames, joints = fmap.shape
    grad = difference_gradient(fmap.mean(dim=(1, 3, 4)), projector, anchor_embedding)
    alpha = grad / (bodies * frames * joints)
    if grad_activation == "relu":
        alpha = alpha.relu()
    cam = torch.einsum("nc,nmctv->nmtv", alpha, fmap).relu()
    matrix = _smoothing_matrix(smoothing)
    if matrix is not None:
        if matrix.shape[0] != joints:
            raise ValueError(f"{smoothing} smoothing is defined for {matrix.shape[0]} joints, got V={joints}")
        cam = cam @ matrix.to(cam)
    if activation == "gain_clip":
        return (cam * (gain / (channels * n))).clamp(0.0, 1.0)
    peak = cam.amax(dim=(1, 2, 3), keepdim=True)
    soft = torch.where(peak > 0, cam / peak.clamp_min(torch.finfo(cam.dtype).tiny), torch.ones_like(cam))
    return soft if threshold is None else (soft >= threshold).to(cam.dtype)
