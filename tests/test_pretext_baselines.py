"""The model-free fill-in of benchmarks/real/pretext_baselines.py (its figures are in
docs/real-data-tuning.md): exact on motion that is linear in time, neighbours' mean for a joint
masked in every segment, and the linear fill-in's features hide what is masked."""

from __future__ import annotations

import torch

from helpers import load_real_benchmark
from skelssl.backbones.graph import adjacency
from skelssl.skeleton import KINECT20


def _masked(batch: int, segments: int, joints: int, cells: list[tuple[int, int]]) -> torch.Tensor:
    grid = torch.zeros(batch, segments, joints, dtype=torch.bool)
    for s, j in cells:
        grid[:, s, j] = True
    return grid.flatten(1)


def test_fill_in_restores_motion_linear_in_time():
    pb = load_real_benchmark("pretext_baselines")
    t, v, t_patch = 16, KINECT20.num_joints, 4
    frames = torch.arange(t, dtype=torch.float32)[:, None, None]
    slope = torch.randn(1, v, 3, generator=torch.Generator().manual_seed(0))
    x = (frames * slope + 1.0)[None]  # (1, T, V, 3), linear in time for every joint
    masked = _masked(1, t // t_patch, v, [(1, 3), (2, 3), (1, 7)])  # interior segments
    out = pb.fill_in(x, masked, t_patch, KINECT20)
    assert torch.allclose(out, x, atol=1e-5)
    corrupted = x.clone()
    corrupted[:, 4:12, 3] = 99.0  # what the masked frames held must not matter
    assert torch.allclose(pb.fill_in(corrupted, masked, t_patch, KINECT20), x, atol=1e-5)


def test_fill_in_gives_a_whole_masked_joint_its_neighbours_mean():
    pb = load_real_benchmark("pretext_baselines")
    t, v, t_patch = 8, KINECT20.num_joints, 4
    x = torch.randn(1, t, v, 3, generator=torch.Generator().manual_seed(1))
    joint = 5
    masked = _masked(1, t // t_patch, v, [(s, joint) for s in range(t // t_patch)])
    out = pb.fill_in(x, masked, t_patch, KINECT20)
    near = adjacency(KINECT20, self_links=False)[joint].nonzero().flatten().tolist()
    assert near and torch.allclose(out[0, :, joint], x[0][:, near].mean(dim=1), atol=1e-6)
    keep = [j for j in range(v) if j != joint]
    assert torch.equal(out[0][:, keep], x[0][:, keep])


def test_segment_features_hide_joints_without_visible_frames():
    pb = load_real_benchmark("pretext_baselines")
    x = torch.randn(2, 8, KINECT20.num_joints, 3, generator=torch.Generator().manual_seed(2))
    has_frames = torch.ones(2, KINECT20.num_joints, dtype=torch.bool)
    has_frames[0, 4] = False
    before = pb.segment_features(x, has_frames, 4)
    x2 = x.clone()
    x2[0, :, 4] = 50.0
    after = pb.segment_features(x2, has_frames, 4)
    assert torch.equal(before, after)  # the hidden joint's coordinates do not reach the features
    assert before.shape == (2, 2, KINECT20.num_joints * 12 + KINECT20.num_joints + 1)
