"""PSTL's masks (methods.md §5.2): central spatial masking (CSM) and motion-attention temporal
masking (MATM). Both follow [PSTL-code] `model.py` (`central_spacial_mask`, `motion_att_temp_mask`).

- CSM: a multiset holds joint j deg(j) times (node degree in the bone graph, 48 entries for NTU's
  24 bones); `draws` entries are taken without replacement, so ≤ `draws` distinct joints are
  removed; one draw for the whole batch (the GCN then runs on the smaller graph).
- MATM: per-frame motion energy e_t = mean over persons, joints and channels of (X_{t+1} − X_t)²
  (0 for the last frame); the `drop_top` highest-energy frames of each sample are removed (a hard
  top-k, as the code does; the paper words it as "higher motion → higher removal probability"),
  the rest keep their order; then `drop_random` of the remaining positions are removed uniformly
  at random, the same positions for the whole batch.
Choices of ours: ties in energy keep the earlier frame (stable sort); the energy is computed from
the clip handed in (PSTL: the augmented clip), not from the preprocess stage's motion magnitude.
"""

from __future__ import annotations

import torch

from skelssl.skeleton import Layout


def degree_multiset(layout: Layout) -> torch.Tensor:
    """Joint indices, joint j repeated deg(j) times (2 × bones entries)."""
    degrees = torch.tensor(layout.degrees())
    return torch.repeat_interleave(torch.arange(layout.num_joints), degrees)


def central_spatial_mask(layout: Layout, draws: int, generator: torch.Generator,
                         device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, removed): sorted joint indices after removing `draws` degree-weighted multiset draws."""
    pool = degree_multiset(layout)
    if draws > len(pool):
        raise ValueError(f"csm_joints ({draws}) exceeds the degree multiset size ({len(pool)})")
    picks = torch.randperm(len(pool), generator=generator, device=generator.device)[:draws].cpu()
    removed = torch.zeros(layout.num_joints, dtype=torch.bool)
    removed[pool[picks]] = True
    if removed.all():
        raise ValueError("central spatial masking removed every joint")
    kept = torch.nonzero(~removed).flatten()
    return kept.to(device), torch.nonzero(removed).flatten().to(device)


def frame_energy(x: torch.Tensor) -> torch.Tensor:
    """x (N, M, T, V, C) → motion energy (N, T): mean squared next-frame difference, last = 0."""
    diff = (x[:, :, 1:] - x[:, :, :-1]).pow(2).mean(dim=(1, 3, 4))
    return torch.cat([diff, diff.new_zeros(diff.shape[0], 1)], dim=1)


def motion_attention_temporal_mask(x: torch.Tensor, drop_top: int, drop_random: int,
                                   generator: torch.Generator) -> torch.Tensor:
    """Indices (N, T − drop_top − drop_random) of the frames kept, increasing per sample."""
    n, t = x.shape[0], x.shape[2]
    remain = t - drop_top
    keep = remain - drop_random
    if keep < 1:
        raise ValueError(f"MATM drops {drop_top}+{drop_random} of {t} frames: nothing left")
    energy = frame_energy(x.detach().float())
    low = energy.sort(dim=1, stable=True).indices[:, :remain].sort(dim=1).values  # (N, remain)
    positions = torch.randperm(remain, generator=generator, device=generator.device)[:keep]
    positions = positions.sort().values.to(x.device)
    return low.index_select(1, positions)


def gather_frames(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """x (N, M, T, V, C), frames (N, T') → (N, M, T', V, C)."""
    n, m, _, v, c = x.shape
    index = frames.view(n, 1, -1, 1, 1).expand(-1, m, -1, v, c)
    return x.gather(2, index)
