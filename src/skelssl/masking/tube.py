"""Motion-aware tube masking (Skeleton2vec, methods.md §2.2).

The token grid (segments × joints) is cut along time into tubes of `tube_tokens` segments. In each
tube, every joint gets a score U(0,1) + motion_weight · Ĩ, where Ĩ is the joint's mean token motion
in the tube divided by the largest one in that tube (+1e-6). The `max(1, int(V·(1−ratio)))` joints
with the lowest score stay visible for every segment of the tube (persistent masking); the rest are
masked. Higher motion → higher score → masked more often.

Follows the authors' latest development code (commit 14935c1): normalisation by the maximum over
joints inside the tube; `t_tau` adaptive segmentation is unused there and omitted here. The paper's
own formula is *unverified* (the official code was never released).

The motion prior (`abs_frame_motion`, then `token_motion`) is the dev code's: its data pipeline
rotates the skeleton (`RandomRot`), then takes frame differences (`ToMotion`: x[t+1] − x[t], last
frame 0), and the mask averages |Δx| over each token's frames *and coordinates* (an L1 mean, not a
Euclidean norm, so it depends on the rotation drawn; computed after it, from the augmented input).
As in the reference, a person appearing or vanishing mid-clip adds one frame of large motion.
"""

from __future__ import annotations

import torch

from skelssl.masking.common import Mask, mask_from_keep


def visible_joints(num_joints: int, ratio: float) -> int:
    """int(V·(1−ratio)), at least 1. The 1e-9 guards against float error: 25·(1−0.8) is
    4.999…, which plain int() truncates to 4 instead of the intended 5."""
    return max(1, int(num_joints * (1.0 - ratio) + 1e-9))


def abs_frame_motion(x: torch.Tensor) -> torch.Tensor:
    """(B, T, V, C) coordinates → (B, T, V): mean over C of |x[t+1] − x[t]|, last frame 0.

    `token_motion` of this is the dev code's per-token prior: mean |Δx| over t_patch frames × C.
    """
    motion = torch.zeros(x.shape[:3], dtype=torch.float32, device=x.device)
    motion[:, :-1] = (x[:, 1:].float() - x[:, :-1].float()).abs().mean(dim=-1)
    return motion


def motion_aware_tube_mask(motion: torch.Tensor, ratio: float, tube_tokens: int,
                           motion_weight: float, generator: torch.Generator) -> Mask:
    """motion: per-token motion (B, S, V) with S segments. Returns the Mask over S·V tokens.

    The number of visible tokens is S · visible_joints(V, ratio) for every sample, so the
    student's visible-token batch stays rectangular.
    """
    b, s, v = motion.shape
    keep_j = visible_joints(v, ratio)
    starts = range(0, s, tube_tokens)
    # (B, tubes, V): mean motion per joint inside each tube (the last tube may be shorter)
    tube_motion = torch.stack([motion[:, i:i + tube_tokens].mean(dim=1) for i in starts], dim=1)
    normalised = tube_motion / (tube_motion.amax(dim=2, keepdim=True) + 1e-6)
    noise = torch.rand(tube_motion.shape, generator=generator, device=motion.device)
    keep = (noise + motion_weight * normalised).argsort(dim=2)[:, :, :keep_j]  # (B, tubes, keep_j)
    ids = []
    for k, start in enumerate(starts):
        for seg in range(start, min(start + tube_tokens, s)):
            ids.append(seg * v + keep[:, k])
    return mask_from_keep(torch.cat(ids, dim=1), s * v)
