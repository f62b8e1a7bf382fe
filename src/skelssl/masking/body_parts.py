"""Body-part masking (graph SkeletonMAE, methods.md §3.2).

Per graph (one frame of one person), `parts` of the layout's named body parts are drawn uniformly
without replacement and every joint of the chosen parts is masked. The paper uses the 6 COCO-17
regions (head, torso, two arms, two legs); here the regions are the layout's `parts` (NTU-25: the
same 6 regions, head 2 joints, torso 7, arms 5 each, legs 3 each), so the masked-joint count
depends on the parts drawn.

`masked_reach` measures how far masked joints lie from the visible ones on the layout's bone graph:
a message-passing model whose encoder + decoder make k hops can only make a masked joint's
prediction depend on the input if some visible joint is at most k hops away (graph SkeletonMAE
sizes its decoder from it, `skelssl.methods.skeletonmae_graph`). With 2 parts masked, the largest
reach is 7 on NTU-25 (torso + arm: the hand tip), 6 on Kinect-20 (torso + leg: the foot) and 4 on
OpenNI-15, COCO-17 (the paper's regions) and Penn-13.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

import torch

from skelssl.skeleton import Layout


def part_membership(layout: Layout, device: torch.device | str = "cpu") -> torch.Tensor:
    """(P, V) bool: row p marks the joints of the layout's p-th part (insertion order)."""
    member = torch.zeros(len(layout.parts), layout.num_joints, dtype=torch.bool, device=device)
    for p, joints in enumerate(layout.parts.values()):
        member[p, list(joints)] = True
    return member


def body_part_mask(num_graphs: int, layout: Layout, parts: int, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, V) bool mask, True = masked: the joints of `parts` distinct random parts per graph."""
    num_parts = len(layout.parts)
    if not 1 <= parts <= num_parts:
        raise ValueError(f"mask.parts must be in [1, {num_parts}] for layout {layout.name}, got {parts}")
    member = part_membership(layout, device)
    scores = torch.rand(num_graphs, num_parts, generator=generator, device=device)
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    chosen.scatter_(1, scores.argsort(dim=1)[:, :parts], True)  # (B, P) uniform k-subset
    return (chosen.unsqueeze(-1) & member).any(dim=1)


def hops_to_nearest(layout: Layout, sources: set[int]) -> list[float]:
    """Hop distance (bones) of every joint to the nearest joint of `sources` (inf if none)."""
    neighbours: list[list[int]] = [[] for _ in range(layout.num_joints)]
    for child, parent in layout.bones:
        if child != parent:
            neighbours[child].append(parent)
            neighbours[parent].append(child)
    dist = [math.inf] * layout.num_joints
    queue = deque(sources)
    for j in sources:
        dist[j] = 0
    while queue:
        u = queue.popleft()
        for w in neighbours[u]:
            if dist[w] == math.inf:
                dist[w] = dist[u] + 1
                queue.append(w)
    return dist


def masked_reach(layout: Layout, parts: int) -> dict[tuple[str, ...], float]:
    """For every set of `parts` of the layout's parts (as `body_part_mask` may draw): the largest hop
    distance from one of their joints to the nearest joint left visible (inf if none is visible)."""
    reach = {}
    for combo in itertools.combinations(layout.parts, parts):
        masked = {j for name in combo for j in layout.parts[name]}
        dist = hops_to_nearest(layout, set(range(layout.num_joints)) - masked)
        reach[combo] = max(dist[j] for j in masked)
    return reach


def max_masked_reach(layout: Layout, parts: int) -> float:
    """The largest `masked_reach` over every draw of `parts` parts: the hops a model needs so that
    every masked joint's prediction can depend on a visible joint."""
    return max(masked_reach(layout, parts).values())
