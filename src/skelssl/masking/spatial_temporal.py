"""Spatial-temporal masking (SkeletonMAE of Wu et al., methods.md §4): joint level + frame level.

On the token grid (S temporal segments × V joints), each sample independently and uniformly draws
- `round(V · joint_ratio)` joints, masked in *every* segment (joint-level / spatial masking), and
- `round(S · frame_ratio)` segments, masked for *every* joint (frame-level / temporal masking);
the masked set is their union. The visible tokens are the product (V − J) × (S − F), the same count
for every sample, so visible batches stay rectangular.

Our reading (the paper body was not reachable, so all of this is *unverified*): the abstract names
joint-level and frame-level masking; we apply both at once on the MAMP-style token grid, a "frame"
being one temporal token (t_patch frames), not a single frame or an STTFormer tuple. `round` is
Python's (half to even: 30 · 0.75 = 22.5 → 22); the counts are capped at V − 1 and S − 1 so that
at least one token stays visible. At least one token must be masked (both ratios 0 is refused).
"""

from __future__ import annotations

import torch

from skelssl.masking.common import Mask


def masked_counts(segments: int, joints: int, joint_ratio: float, frame_ratio: float) -> tuple[int, int]:
    """(masked joints, masked segments) for the grid; raises if nothing would be masked."""
    masked_joints = min(joints - 1, round(joints * joint_ratio))
    masked_segments = min(segments - 1, round(segments * frame_ratio))
    if masked_joints == 0 and masked_segments == 0:
        raise ValueError(f"joint_ratio {joint_ratio} and frame_ratio {frame_ratio} mask no token "
                         f"of a {segments} x {joints} grid")
    return masked_joints, masked_segments


def _draw(batch: int, size: int, count: int, generator: torch.Generator,
          device: torch.device) -> torch.Tensor:
    """(batch, size) bool: `count` positions per row, uniformly without replacement."""
    order = torch.rand(batch, size, generator=generator, device=device).argsort(dim=1)
    chosen = torch.zeros(batch, size, dtype=torch.bool, device=device)
    return chosen.scatter_(1, order[:, :count], True)


def spatial_temporal_mask(batch: int, segments: int, joints: int, joint_ratio: float,
                          frame_ratio: float, generator: torch.Generator,
                          device: torch.device | str = "cpu") -> Mask:
    """The union of joint-level and segment-level masks over `segments · joints` tokens."""
    masked_joints, masked_segments = masked_counts(segments, joints, joint_ratio, frame_ratio)
    device = torch.device(device)
    joint_mask = _draw(batch, joints, masked_joints, generator, device)  # (B, V)
    segment_mask = _draw(batch, segments, masked_segments, generator, device)  # (B, S)
    masked = (segment_mask[:, :, None] | joint_mask[:, None, :]).flatten(1)  # segment-major
    visible = (segments - masked_segments) * (joints - masked_joints)
    # a stable sort puts the visible (False) positions first, in increasing order; no device sync
    ids_keep = masked.to(torch.uint8).argsort(dim=1, stable=True)[:, :visible]
    return Mask(ids_keep, masked)
