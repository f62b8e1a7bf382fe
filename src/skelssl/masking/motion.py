"""Motion-aware random masking (MAMP, methods.md §1.2), computed from raw coordinates on the device.

For a person sequence x (T, V, C) cut into tokens (segment s × joint v), each holding the patch
P[s, v] of `t_patch` frames × C coordinates:
1. token motion m[s, v] = mean |P[s, v] − P[s−1, v]| over the t_patch·C values (difference between
   consecutive *temporal tokens*, not frames), with m[0, v] = m[1, v];
2. s = m / (τ · max m + 1e-10) per sequence (the 1e-10 is MAMP's: an all-zero, absent person gets
   s = 0, i.e. uniform masking, instead of 0/0);
3. p = softmax(s) over all L = S·V tokens; key = log p − log(−log u), u ~ U(0, 1) (Gumbel-top-k,
   with MAMP's 1e-10 guards inside the logs);
4. the `visible_tokens(L, ratio)` smallest keys stay visible, all others are masked. Masking the
   largest keys samples the masked set without replacement with probability ∝ p, so high-motion
   tokens are masked more often; τ → 0 makes it greedy on motion, large τ nearly uniform.

Visible count: `int(L·(1−ratio))` exactly as MAMP computes it, *without* a float guard, so the paper
setting (L = 750, ratio 0.9) keeps 74 tokens (750·(1−0.9) = 74.99999…), not 75: the published
checkpoints were trained with 74, and reproducing the reference beats the rounder number (one token,
0.13 % of the mask). This differs on purpose from `masking.tube.visible_joints`, which follows the
intended value. At least one token is always kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skelssl.masking.common import Mask, mask_from_keep


def patchify(x: torch.Tensor, t_patch: int) -> torch.Tensor:
    """(B, T, V, C) → (B, S, V, t_patch·C) token patches, S = T / t_patch.

    A patch holds its joint's `t_patch` frames, frame-major then coordinate (MAMP's `patchify`),
    and tokens follow the encoder's segment-major order once flattened over (S, V).
    """
    b, t, v, c = x.shape
    if t % t_patch:
        raise ValueError(f"frames ({t}) must be divisible by t_patch ({t_patch})")
    return x.reshape(b, t // t_patch, t_patch, v, c).transpose(2, 3).reshape(b, t // t_patch, v, t_patch * c)


def patch_motion(x: torch.Tensor, t_patch: int) -> torch.Tensor:
    """(B, T, V, C) → token motion m (B, S, V): mean |P[s] − P[s−1]| over each patch, m[0] = m[1]."""
    patches = patchify(x.float(), t_patch)
    motion = torch.zeros(patches.shape[:3], dtype=patches.dtype, device=patches.device)
    if patches.shape[1] > 1:
        motion[:, 1:] = (patches[:, 1:] - patches[:, :-1]).abs().mean(dim=-1)
        motion[:, 0] = motion[:, 1]
    return motion


def visible_tokens(num_tokens: int, ratio: float) -> int:
    """MAMP's `int(L·(1−ratio))` (no float guard; see the module docstring), at least 1."""
    return max(1, int(num_tokens * (1 - ratio)))


def motion_aware_gumbel_mask(x: torch.Tensor, t_patch: int, ratio: float, tau: float,
                             generator: torch.Generator) -> Mask:
    """x: raw (augmented) coordinates (B, T, V, C). Returns the Mask over S·V tokens.

    Every sample keeps `visible_tokens(S·V, ratio)` tokens, so visible batches stay rectangular.
    """
    motion = patch_motion(x, t_patch).flatten(1)  # (B, L)
    b, num_tokens = motion.shape
    scores = motion / (motion.amax(dim=1, keepdim=True) * tau + 1e-10)
    log_p = F.log_softmax(scores, dim=1)
    u = torch.rand(b, num_tokens, generator=generator, device=x.device)
    keys = log_p - torch.log(-torch.log(u + 1e-10) + 1e-10)
    ids_keep = keys.argsort(dim=1)[:, :visible_tokens(num_tokens, ratio)]
    return mask_from_keep(ids_keep, num_tokens)
