"""PSTL's augmentations (AimCLR family; methods.md §5.2), per sample, on the device, seeded.

Every function takes x (N, M, T, V, C) and an explicit `torch.Generator` and draws its random
parameters once per *sample* (shared by the sample's persons and frames). Shear and rotation draw
3×3 matrices; 2D keypoints (C = 2) use their top-left 2×2 block, i.e. the 3D transform of
(x, y, 0) projected back on the image plane (our choice for 2D layouts; 3D data is unchanged). The reference code draws
them once per *batch* (Python `random` in [PSTL-code] `model.py`); per-sample draws are our choice.
Applied in the reference's order: crop → shear → rotation → left/right swap. Zero (absent) persons
stay zero: every transform is linear or a re-indexing.
"""

from __future__ import annotations

import math

import torch

from skelssl.augment import rotation_matrices
from skelssl.skeleton import Layout


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator,
             device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=device)


def temporal_crop(x: torch.Tensor, generator: torch.Generator, padding_ratio: int = 6) -> torch.Tensor:
    """Pad T//padding_ratio mirrored frames at both ends, then take a random window of T frames.

    As the reference `crop`: the padding is the clip's first/last frames in reverse order (edge
    frame included, i.e. "symmetric" padding), the window start is uniform in [0, 2·pad].
    """
    n, _, t = x.shape[:3]
    pad = t // padding_ratio
    if pad == 0:
        return x
    padded = torch.cat([x[:, :, :pad].flip(2), x, x[:, :, t - pad:].flip(2)], dim=2)
    start = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    frames = start.view(n, 1) + torch.arange(t, device=x.device).view(1, t)  # (N, T)
    index = frames.view(n, 1, t, 1, 1).expand(-1, x.shape[1], -1, *x.shape[3:])
    return padded.gather(2, index)


def random_shear(x: torch.Tensor, amplitude: float, generator: torch.Generator) -> torch.Tensor:
    """x ← S·x with S = I + off-diagonal entries U(−amplitude, amplitude), one S per sample.

    (The reference applies Sᵀ; with i.i.d. symmetric off-diagonals the distribution is the same.)
    """
    if amplitude == 0:
        return x
    n = x.shape[0]
    off = _uniform((n, 3, 3), -amplitude, amplitude, generator, x.device)
    eye = torch.eye(3, device=x.device, dtype=torch.bool)
    c = x.shape[-1]
    shear = torch.where(eye, torch.ones((), device=x.device), off).to(x.dtype)[:, :c, :c]
    return torch.einsum("nij,nmtvj->nmtvi", shear, x)


def random_axis_rotation(x: torch.Tensor, main_degrees: float, other_degrees: float,
                         generator: torch.Generator) -> torch.Tensor:
    """Rotate about x, then y, then z: one axis (uniform) by U(0, main)°, the others U(0, other)°.

    Angles are one-sided as in the reference `random_rotate`, whose matrices rotate by −angle in
    the right-handed convention; we keep that direction (R = Rz(−γ)·Ry(−β)·Rx(−α)).
    """
    if main_degrees == 0 and other_degrees == 0:
        return x
    n = x.shape[0]
    main_axis = torch.randint(0, 3, (n,), generator=generator, device=x.device)
    u = torch.rand((n, 3), generator=generator, device=x.device)
    is_main = torch.nn.functional.one_hot(main_axis, 3).bool()
    degrees = torch.where(is_main, u * main_degrees, u * other_degrees)
    c = x.shape[-1]
    rot = rotation_matrices(-degrees * (math.pi / 180.0)).to(x.dtype)[:, :c, :c]
    return torch.einsum("nij,nmtvj->nmtvi", rot, x)


def left_right_permutation(layout: Layout) -> torch.Tensor:
    """Joint order (V,) that swaps every (left, right) pair of the layout."""
    order = list(range(layout.num_joints))
    for left, right in layout.left_right:
        order[left], order[right] = right, left
    return torch.tensor(order)


def random_left_right_swap(x: torch.Tensor, layout: Layout, prob: float,
                           generator: torch.Generator) -> torch.Tensor:
    """With probability `prob` per sample, exchange left and right joints (coordinates unchanged)."""
    if prob == 0 or not layout.left_right:
        return x
    n = x.shape[0]
    swap = torch.rand((n,), generator=generator, device=x.device) < prob
    swapped = x.index_select(3, left_right_permutation(layout).to(x.device))
    return torch.where(swap.view(n, 1, 1, 1, 1), swapped, x)


def pstl_augment(x: torch.Tensor, layout: Layout, shear: float, rotation_main: float,
                 rotation_other: float, flip_prob: float, generator: torch.Generator) -> torch.Tensor:
    """The full PSTL chain: crop → shear → rotation → left/right swap (one draw per sample)."""
    x = temporal_crop(x, generator)
    x = random_shear(x, shear, generator)
    x = random_axis_rotation(x, rotation_main, rotation_other, generator)
    return random_left_right_swap(x, layout, flip_prob, generator)
