"""Skeleton graphs for graph convolutions: adjacency, hop distances, the ST-GCN "spatial" partition.

Matrices are indexed A[k, v, w] = weight of the message from joint v to joint w, as used by
ST-GCN's `einsum("nkctv,kvw->nctw")`. The "spatial" partition (Yan et al. 2018; PSTL's
`module/gcn/utils/graph.py`, max_hop 1, methods.md §5.1) splits every joint's 1-hop
neighbourhood into three subsets, each normalised by the size of the receiving joint's
neighbourhood (self + bones; ST-GCN's `normalize_digraph`, A·D⁻¹ with column sums), so the three
subsets of one column sum to 1:

- 0: the self-link (root);
- 1: neighbours at least as far from `layout.graph_center` as the receiving joint (the
  centrifugal group; equally distant neighbours join it, as ST-GCN's `a_root + a_close`);
- 2: neighbours closer to the centre than the receiving joint (the centripetal group).

The subset order and the entries are the reference's (its `a_close` is keyed [source, target], so
its "close" matrix holds, for each receiving joint, the *farther* neighbours: the grouping is the
paper's, only the names are swapped in the reference code).

`subgraph` keeps a subset of joints (PSTL's central spatial masking): rows and columns of removed
joints are dropped *without* renormalising the rest (methods.md §5.2).
"""

from __future__ import annotations

import torch

from skelssl.skeleton import Layout


def adjacency(layout: Layout, self_links: bool = True) -> torch.Tensor:
    """Symmetric 0/1 adjacency (V, V) of the bone graph, with self-links by default."""
    v = layout.num_joints
    a = torch.zeros(v, v)
    for child, parent in layout.bones:
        a[child, parent] = a[parent, child] = 1.0
    if self_links:
        a += torch.eye(v)
    return a


def hop_distance(layout: Layout) -> torch.Tensor:
    """Shortest-path length (V, V) in bones between every pair of joints (inf if unreachable)."""
    v = layout.num_joints
    step = adjacency(layout, self_links=True) > 0
    dist = torch.full((v, v), float("inf"))
    reach = torch.eye(v, dtype=torch.bool)
    dist[reach] = 0
    for hops in range(1, v):
        reach_next = (reach.float() @ step.float()) > 0
        new = reach_next & ~reach
        if not new.any():
            break
        dist[new] = float(hops)
        reach = reach_next
    return dist


def spatial_partition(layout: Layout) -> torch.Tensor:
    """The ST-GCN "spatial" partition (3, V, V), normalised per receiving joint (see module doc)."""
    a = adjacency(layout, self_links=True)
    normalised = a / a.sum(dim=0, keepdim=True)  # A·D⁻¹: column w divided by |N(w)|
    to_center = hop_distance(layout)[:, layout.graph_center]
    src_far = to_center.view(-1, 1) >= to_center.view(1, -1)  # [v, w]: v at least as far as w
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
