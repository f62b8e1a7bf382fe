"""Body-part masking (graph SkeletonMAE, methods.md §3.2).

Per graph (one frame of one person), `parts` of the layout's named body parts are drawn uniformly
without replacement and every joint of the chosen parts is masked. The paper uses the 6 COCO-17
regions (head, torso, two arms, two legs); here the regions are the layout's `parts` (NTU-25: the
same 6 regions, head 2 joints, torso 7, arms 5 each, legs 3 each), so the masked-joint count
depends on the parts drawn.
"""

from __future__ import annotations

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
