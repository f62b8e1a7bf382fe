"""Shared mask container and token-level motion statistics."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Mask(NamedTuple):
    """ids_keep (B, L_vis) visible token indices (sorted); masked (B, L) bool, True = masked."""

    ids_keep: torch.Tensor
    masked: torch.Tensor


def token_motion(motion: torch.Tensor, t_patch: int) -> torch.Tensor:
    """Per-frame joint motion magnitude (B, T, V) → per-token motion (B, T/t_patch, V).

    A token covers `t_patch` frames of one joint; its motion is the mean magnitude over them.
    """
    b, t, v = motion.shape
    return motion.view(b, t // t_patch, t_patch, v).mean(dim=2)


def mask_from_keep(ids_keep: torch.Tensor, num_tokens: int) -> Mask:
    ids_keep = ids_keep.sort(dim=1).values
    masked = torch.ones(ids_keep.shape[0], num_tokens, dtype=torch.bool, device=ids_keep.device)
    masked.scatter_(1, ids_keep, False)
    return Mask(ids_keep, masked)
