"""Input streams (joint, bone, motion) and their score ensemble (PSTL's "3s", methods.md §5.1/§5.6).

Facts followed: PSTL's `view` option feeds the network joints, bones (the 25 NTU bone pairs) or
motion (frame differences); its "3s" results ensemble three separately trained streams.

Definitions here, on processed clips (N, M, T, V, C):
- joint: the clip itself (returned as is, not copied).
- bone: x[v] − x[parent(v)] for every (child, parent) of `Layout.bones`; a joint that is nobody's
  child (the root, NTU-25: spine shoulder, the 25th pair of PSTL's list being its self-loop) is 0.
  Absent (all-zero) persons stay 0.
- motion: x[t+1] − x[t], the last frame 0, and 0 where the person is absent in frame t or t+1
  (the rule of `skelssl.kernels.motion`, so a person appearing mid-clip adds no spurious jump).
- `motion_magnitude`: ‖motion‖ over C per joint and frame, the prior of the motion-aware masks.

Ensemble (*unverified* against PSTL's script): the sum over streams of softmax probabilities.
"""

from __future__ import annotations

import torch

from skelssl.skeleton import Layout

STREAMS = ("joint", "bone", "motion")


def _bone(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    if not layout.bones:
        return torch.zeros_like(x)
    child, parent = (torch.tensor(idx, device=x.device) for idx in zip(*layout.bones))
    out = torch.zeros_like(x)
    out[..., child, :] = x[..., child, :] - x[..., parent, :]
    return out


def _motion(x: torch.Tensor) -> torch.Tensor:
    present = (x != 0).flatten(-2).any(dim=-1)  # (N, M, T)
    both = (present[..., :-1] & present[..., 1:])[..., None, None]
    out = torch.zeros_like(x)
    out[:, :, :-1] = torch.where(both, x[:, :, 1:] - x[:, :, :-1], 0.0)
    return out


def to_stream(x: torch.Tensor, stream: str, layout: Layout) -> torch.Tensor:
    """x (N, M, T, V, C) → the same shape in the given stream's representation."""
    if x.ndim != 5 or x.shape[3] != layout.num_joints:
        raise ValueError(f"x must be (N, M, T, {layout.num_joints}, C), got {tuple(x.shape)}")
    if stream == "joint":
        return x
    if stream == "bone":
        return _bone(x, layout)
    if stream == "motion":
        return _motion(x)
    raise ValueError(f"unknown stream {stream!r} (known: {', '.join(STREAMS)})")


def motion_magnitude(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """(N, M, T, V) Euclidean norm over C of the motion stream of x (any stream's input)."""
    return to_stream(x, "motion", layout).norm(dim=-1)


def ensemble(scores: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the streams' softmax probabilities, (N, classes)."""
    if not scores:
        raise ValueError("ensemble needs the scores of at least one stream")
    return torch.stack([s.float().softmax(dim=1) for s in scores.values()]).sum(dim=0)
