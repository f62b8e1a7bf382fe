"""Missing-joint robustness: a linear probe trained on clean features, tested with k joints zeroed.

Facts followed: PSTL's "practical evaluation" removes joints sampled like its central spatial
masking (CSM), i.e. with probability growing with the joint's node degree in the bone graph
(methods.md §5.2, §5.5); the paper's exact protocol (how many joints, train and/or test) is
*unverified*, so the protocol here is our own reading:

- `drop_joints` zeroes exactly k *distinct* joints of every clip: the same joints in every frame
  and for every person of that clip, drawn afresh for each clip.
  - "random": k joints drawn uniformly without replacement.
  - "centrality" ("centrality-weighted" read as "hubs are more likely"): successive draws without
    replacement, each picking a remaining joint with probability ∝ its node degree in the
    layout's bone graph (`Layout.degrees()`; NTU-25: spine shoulder 4, spine base 3, the five
    extremities 1, the rest 2). Unlike CSM's multiset draw this always yields k distinct joints.
- `robustness_curve`: the probe (`evaluation.linear`, the same recipe and generator key as the
  evaluate stage's probe) is trained once on clean training features; every (mode, k) is then
  tested on `repeats` independent draws over the whole test set and the top-1 accuracies are
  averaged. k = 0 involves no draw and is evaluated once, shared by every mode.
- Zeroed joints sit at the origin, which after preprocessing is the centre joint's first-frame
  position (the same value absent persons have), not a "missing" token; the encoder is not told
  which joints are missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from skelssl.config import LinearParams, RobustnessParams
from skelssl.console import track
from skelssl.evaluation.features import extract_features, topk_accuracy
from skelssl.evaluation.linear import train_linear_head
from skelssl.repro import torch_generator
from skelssl.skeleton import Layout

MODES = ("random", "centrality")


@dataclass(frozen=True)
class CurvePoint:
    mode: str
    k: int
    top1: float  # mean over the repeats, percent
    std: float  # population std over the repeats (0 for a single evaluation)


def joint_weights(mode: str, layout: Layout) -> torch.Tensor:
    """(V,) unnormalised sampling weight of every joint: 1 (random) or the node degree (centrality)."""
    if mode == "random":
        return torch.ones(layout.num_joints, dtype=torch.float64)
    if mode == "centrality":
        return torch.tensor(layout.degrees(), dtype=torch.float64)
    raise ValueError(f"unknown drop mode {mode!r} (known: {', '.join(MODES)})")


def sample_dropped(n: int, k: int, mode: str, generator: torch.Generator, layout: Layout) -> torch.Tensor:
    """(n, k) int64: k distinct joints per clip, drawn without replacement (see module docstring)."""
    weights = joint_weights(mode, layout)
    available = int((weights > 0).sum())
    if not 0 <= k <= available:
        raise ValueError(f"cannot drop {k} distinct joints in {mode} mode: the {layout.name} layout "
                         f"has {available} joints that can be drawn")
    if k == 0 or n == 0:
        return torch.empty(n, k, dtype=torch.int64)
    return torch.multinomial(weights.expand(n, -1), k, replacement=False, generator=generator)


def drop_joints(x: torch.Tensor, k: int, mode: str, generator: torch.Generator,
                layout: Layout) -> torch.Tensor:
    """x (N, M, T, V, C) → a copy with k distinct joints per clip set to 0 in all frames and persons."""
    if x.ndim != 5 or x.shape[3] != layout.num_joints:
        raise ValueError(f"x must be (N, M, T, {layout.num_joints}, C), got {tuple(x.shape)}")
    dropped = sample_dropped(x.shape[0], k, mode, generator, layout)
    gone = torch.zeros(x.shape[0], layout.num_joints, dtype=torch.bool)
    gone.scatter_(1, dropped, True)
    return x.masked_fill(gone[:, None, None, :, None].to(x.device), 0.0)


def area_under_curve(points: list[CurvePoint]) -> float:
    """Trapezoidal area under top1(k) divided by the k range: the mean accuracy over the range."""
    points = sorted(points, key=lambda p: p.k)
    if len(points) == 1:
        return points[0].top1
    area = sum((b.k - a.k) * (a.top1 + b.top1) / 2 for a, b in zip(points, points[1:]))
    return area / (points[-1].k - points[0].k)


@torch.no_grad()
def robustness_curve(encoder: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor,
                     test_x: torch.Tensor, test_y: torch.Tensor, classes: int, layout: Layout,
                     cfg: RobustnessParams, linear: LinearParams, batch_size: int,
                     device: torch.device, seed: int) -> list[CurvePoint]:
    """One point per (mode, k) in the order of `cfg.modes` × sorted distinct `cfg.drop`.

    The probe's generator is `torch_generator(seed, "linear")`; draw r of (mode, k) uses
    `torch_generator(seed, "robustness", mode, k, r)`, so every point is reproducible alone.
    """
    f_train = extract_features(encoder, train_x, batch_size, device)
    with torch.enable_grad():
        head = train_linear_head(f_train, train_y, classes, linear, torch_generator(seed, "linear"))

    def accuracy(x: torch.Tensor) -> float:
        return topk_accuracy(head(extract_features(encoder, x, batch_size, device)), test_y, 1)

    ks = sorted(set(cfg.drop))
    clean = accuracy(test_x) if 0 in ks else None
    jobs = [(mode, k) for mode in dict.fromkeys(cfg.modes) for k in ks]
    points = []
    for mode, k in track(jobs, "robustness"):
        if k == 0:
            points.append(CurvePoint(mode, 0, clean, 0.0))
            continue
        accs = torch.tensor([accuracy(drop_joints(test_x, k, mode,
                                                  torch_generator(seed, "robustness", mode, k, r), layout))
                             for r in range(cfg.repeats)], dtype=torch.float64)
        points.append(CurvePoint(mode, k, accs.mean().item(), accs.std(correction=0).item()))
    return points
