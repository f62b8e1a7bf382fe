"""Labelled subsets for the semi-supervised protocol (methods.md §1.5 MAMP, §5.5 PSTL).

Facts followed: the papers keep 1% or 10% of the training labels. MAMP draws a *plain random*
subset of round-ish size; PSTL draws a *class-balanced* one, round(p · n_c) clips of every class c.

The MAMP gotcha this module avoids: MAMP's semi feeder draws its subset with the global `np.random`
seeded with `seed + rank`, so on 2 GPUs each process trains on a *different* subset (the union of
two draws, not the stated fraction), and its 5 "repeats" all use seed 0, so they share one subset.
Here a subset is a pure function of (labels, fraction, balanced, seed): it is drawn with its own
generator seeded from `seed` alone (never from a process rank, world size or the global RNG),
returned sorted, and identical on every call and in every process; repeats pass different seeds.

Choices of ours (*unverified* against PSTL's code, whose semi loader is commented out): Python's
round (half to even) for the counts; at least one clip per class in the balanced draw (and at
least one clip overall in the plain draw), so a 1% subset of a small dataset still sees every class;
classes absent from `labels` get none.
"""

from __future__ import annotations

import torch


def label_subset(labels: torch.Tensor, fraction: float, balanced: bool, seed: int) -> torch.Tensor:
    """Sorted indices (int64) into `labels` (N,) of the clips whose labels are kept."""
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if len(labels) == 0:
        return torch.empty(0, dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    labels = labels.long().cpu()
    if not balanced:
        keep = max(1, round(fraction * len(labels)))
        chosen = torch.randperm(len(labels), generator=gen)[:keep]
    else:
        parts = []
        for c in torch.unique(labels).tolist():  # ascending class order: part of the draw's definition
            members = torch.nonzero(labels == c).flatten()
            keep = max(1, round(fraction * len(members)))
            parts.append(members[torch.randperm(len(members), generator=gen)[:keep]])
        chosen = torch.cat(parts)
    return chosen.sort().values
