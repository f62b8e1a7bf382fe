"""Stochastic augmentations in torch, on the training device, with an explicit generator."""

from __future__ import annotations

import torch


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """angles (N, 3) around x, y, z (radians) → rotation matrices (N, 3, 3) = Rz·Ry·Rx."""
    cx, cy, cz = angles.cos().unbind(-1)
    sx, sy, sz = angles.sin().unbind(-1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def random_rotation(x: torch.Tensor, max_angle: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each sample (N, M, T, V, C) by angles U(−max_angle, max_angle) on every axis.

    One rotation per sample, shared by all its persons and frames (MAMP's feeder); zero
    (absent) joints stay zero since rotation is linear. 2D keypoints (C = 2) get the same draw,
    applied to (x, y, 0) and projected back on the image plane: the top-left 2×2 block of the
    rotation (our choice for 2D layouts; 3D data is unchanged by it).
    """
    if max_angle == 0:
        return x
    angles = (torch.rand(x.shape[0], 3, generator=generator, device=x.device) * 2 - 1) * max_angle
    c = x.shape[-1]
    rot = rotation_matrices(angles).to(x.dtype)[:, :c, :c]
    return torch.einsum("nij,nmtvj->nmtvi", rot, x)
