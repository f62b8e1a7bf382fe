"""Skeleton graphs for graph convolutions: adjacency, hop distances, the ST-GCN "spatial" partition.

Matrices are indexed A[k, v, w] = weight of the message from joint v to joint w, as used by
ST-GCN's `einsum("nkctv,kvw->nctw")`. The "spatial" partition (Yan et al. 2018) splits every
joint's 1-hop neighbourhood into three subsets by comparing distances to `layout.graph_center`,
each entry normalised by the size of the receiving joint's neighbourhood (self + bones; ST-GCN's
`normalize_digraph`: A·D⁻¹ with D the column sums, so the three subsets of one column sum to 1):

- 0: the self-link (root);
- 1: neighbours v with dist(v) >= dist(w), w the receiving joint (the centrifugal group; equally
  distant neighbours join it, as the reference's `a_root + a_close`);
- 2: neighbours with dist(v) < dist(w) (the centripetal group).

Two distance rules (`partition`, params `methods.pstl.backbone.partition`):

- "reference": what PSTL's code computes ([PSTL-code] `module/gcn/utils/graph.py`: `Graph` with
  strategy 'spatial' and its default `max_hop=1`, `config.py` passes only layout and strategy).
  Hop distances are computed only up to `max_hop` = 1, so every joint two or more hops from the
  centre is at distance ∞; ∞ == ∞ files an edge between two such joints into the root group, which
  the reference adds to subset 1, and ∞ > 1 puts a centre-neighbour → far-joint message in subset
  2. Subset 2 therefore holds only the messages leaving the centre and leaving the centre's
  neighbours outwards; every other bone message sits in subset 1. NTU-25: 25 / 40 / 8 non-zero
  entries (pinned in tests/test_stgcn.py).
- "true_distance": shortest-path hop distances, the partition ST-GCN's paper describes (NTU-25:
  25 / 24 / 24 entries; every joint but the centre has a closer neighbour in subset 2).

The reference's `a_close` is keyed [source, target], so its "close" matrix holds, for each
receiving joint, the *farther* neighbours: the grouping above is the paper's, only the names are
swapped in the reference code.

`subgraph` keeps a subset of joints (PSTL's central spatial masking): rows and columns of removed
joints are dropped *without* renormalising the rest (methods.md §5.2).
"""

from __future__ import annotations

from typing import Literal

import torch

from skelssl.skeleton import Layout

Partition = Literal["reference", "true_distance"]
PARTITIONS: tuple[str, ...] = ("reference", "true_distance")
REFERENCE_MAX_HOP = 1  # PSTL's Graph(max_hop=1): distances beyond one hop are ∞


def adjacency(layout: Layout, self_links: bool = True) -> torch.Tensor:
    """Symmetric 0/1 adjacency (V, V) of the bone graph, with self-links by default."""
    v = layout.num_joints
    a = torch.zeros(v, v)
    for child, parent in layout.bones:
        a[child, parent] = a[parent, child] = 1.0
    if self_links:
        a += torch.eye(v)
    return a


def hop_distance(layout: Layout, max_hop: int | None = None) -> torch.Tensor:
    """Shortest-path length (V, V) in bones between every pair of joints: inf if unreachable or,
    with `max_hop`, farther than `max_hop` hops (as ST-GCN's `get_hop_distance`)."""
    v = layout.num_joints
    step = adjacency(layout, self_links=True) > 0
    dist = torch.full((v, v), float("inf"))
    reach = torch.eye(v, dtype=torch.bool)
    dist[reach] = 0
    for hops in range(1, v if max_hop is None else max_hop + 1):
        reach_next = (reach.float() @ step.float()) > 0
        new = reach_next & ~reach
        if not new.any():
            break
        dist[new] = float(hops)
        reach = reach_next
    return dist


def spatial_partition(layout: Layout, partition: Partition) -> torch.Tensor:
    """The ST-GCN "spatial" partition (3, V, V), normalised per receiving joint; `partition`:
    "reference" (PSTL's code, max_hop 1) or "true_distance" (see module doc)."""
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
    a = adjacency(layout, self_links=True)
    normalised = a / a.sum(dim=0, keepdim=True)  # A·D⁻¹: column w divided by |N(w)|
    max_hop = REFERENCE_MAX_HOP if partition == "reference" else None
    to_center = hop_distance(layout, max_hop)[:, layout.graph_center]
    # [v, w]: v at least as far as w; inf >= inf holds, so an edge between two joints beyond
    # max_hop lands here (the reference's root group, added to subset 1)
    src_far = to_center.view(-1, 1) >= to_center.view(1, -1)
    eye = torch.eye(layout.num_joints, dtype=torch.bool)
    neighbour = (a > 0) & ~eye
    root = torch.where(eye, normalised, torch.zeros(()))
    centrifugal = torch.where(neighbour & src_far, normalised, torch.zeros(()))
    centripetal = torch.where(neighbour & ~src_far, normalised, torch.zeros(()))
    return torch.stack([root, centrifugal, centripetal])


def subgraph(a: torch.Tensor, joints: torch.Tensor | None) -> torch.Tensor:
    """Rows and columns `joints` (sorted indices) of (..., V, V) matrices; no renormalisation."""
    if joints is None:
        return a
    return a.index_select(-2, joints).index_select(-1, joints)
