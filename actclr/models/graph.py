"""The NTU skeleton graph and ST-GCN's "spatial" partition (K=3) used by the encoder.

Entry ``[k, j, i]`` of a partition weights joint ``j``'s contribution to joint ``i``
(``out[..., i] = sum_j x[..., j] A[k, j, i]``), as in the official ``net/utils/graph.py``.
"""
from __future__ import annotations

import torch

from actclr.skeleton import CENTER, EDGES, NUM_JOINTS

#: Partition variants: ``official`` reproduces ST-GCN's ``max_hop=1`` quirk (spec section 2.5);
#: ``true`` splits neighbours by their real graph distance to the centre (ST-GCN paper, Fig. 3d).
PARTITIONS = ("official", "true")


def adjacency(normalize: bool = True) -> torch.Tensor:
    """``A + I`` over the 25 joints, ``(25, 25)``; divided column-wise by degree when ``normalize``.

    The matrix is symmetric before normalisation, so each normalised column sums to one.
    """
    a = torch.eye(NUM_JOINTS)
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    return a / a.sum(dim=0, keepdim=True) if normalize else a


def hop_distance(max_hop: int | None = 1) -> torch.Tensor:
    """``(25, 25)`` graph distances; ``inf`` beyond ``max_hop`` (``None``: no limit)."""
    step = adjacency(normalize=False) > 0
    limit = NUM_JOINTS if max_hop is None else max_hop
    dist = torch.full((NUM_JOINTS, NUM_JOINTS), float("inf"))
    reach = torch.eye(NUM_JOINTS, dtype=torch.bool)
    dist[reach] = 0
    for hop in range(1, limit + 1):
        reach_next = (reach.float() @ step.float()) > 0
        dist[reach_next & ~reach] = hop
        reach = reach_next
    return dist


def spatial_partition(variant: str = "official") -> torch.Tensor:
    """``(3, 25, 25)``: self-loops, "root or centripetal" and "centrifugal" neighbours.

    All three are slices of the column-normalised ``A + I`` and sum to it. Edge ``j -> i`` goes to
    A[2] when ``j`` is closer to the centre (joint 21) than ``i``, else to A[1].

    ``official`` (default, parity with released checkpoints) measures the distance with
    ``max_hop=1``, so every joint two or more hops from the centre is at ``inf`` and ``inf == inf``
    files its edges under A[1]: A[0] holds the 25 self-loops, A[2] exactly 8 entries (2->1, 3->4,
    5->6, 9->10, 21->2, 21->3, 21->5, 21->9, 1-based) and A[1] the other 40. ``true`` uses real
    graph distances, the ST-GCN paper's centripetal/centrifugal split (24 entries each).
    """
    if variant not in PARTITIONS:
        raise ValueError(f"unknown partition {variant!r}; choose one of {PARTITIONS}")
    hop = hop_distance(1)
    to_center = hop_distance(1 if variant == "official" else None)[:, CENTER]
    norm = adjacency(normalize=True)
    edge = hop == 1
    source, target = to_center[:, None], to_center[None, :]
    farther_or_equal, closer = edge & (source >= target), edge & (source < target)
    return torch.stack([norm * (hop == 0), norm * farther_or_equal, norm * closer])
