"""The model-free predictors of benchmarks/real/pretext_baselines.py (its figures are in
docs/real-data-tuning.md): the fill-in is exact on motion that is linear in time and gives a joint
masked in every segment its neighbours' mean; the linear fill-in's and the pose map's features hide
what is masked; the pose map recovers joints that are linear in the visible pose; graph_scores
ranks a perfect model first; the frozen-encoder model starts from the same init and trains only
what is not its encoder."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from helpers import default_params, load_real_benchmark
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


def test_pose_features_hide_masked_joints_and_recentre_on_visible_ones():
    pb = load_real_benchmark("pretext_baselines")
    v = KINECT20.num_joints
    frames = torch.randn(3, v, 3, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(3, v, dtype=torch.bool)
    mask[:, [4, 5, 6]] = True
    feats = pb.pose_features(frames, mask)
    assert feats.shape == (3, v * 3 + v + 1)
    moved = frames.clone()
    moved[:, [4, 5, 6]] = 40.0  # what the masked joints hold must not reach the features
    assert torch.equal(feats, pb.pose_features(moved, mask))
    shifted = pb.pose_features(frames + torch.tensor([1.0, -2.0, 0.5]), mask)  # translation-free
    assert torch.allclose(shifted, feats, atol=1e-5)
    rel = feats[:, : v * 3].view(3, v, 3)
    assert torch.allclose(rel[:, ~mask[0]].mean(dim=1), torch.zeros(3, 3), atol=1e-5)


def test_pose_map_recovers_a_masked_joint_that_is_a_linear_function_of_the_visible_pose():
    """Frames whose joints are fixed linear combinations of a few random pose factors: the ridge
    map, fitted on other frames, predicts masked joints' centred targets almost exactly."""
    pb = load_real_benchmark("pretext_baselines")
    v, gen = KINECT20.num_joints, torch.Generator().manual_seed(4)
    basis = torch.randn(4, v, 3, generator=gen)
    def frames(n: int) -> torch.Tensor:
        return torch.einsum("nk,kvc->nvc", torch.randn(n, 4, generator=gen), basis)
    weights = pb.fit_pose_map(frames(3000), KINECT20, parts=1, draws=2, seed=0, ridge=1e-6)
    test = frames(200)
    mask = torch.zeros(200, v, dtype=torch.bool)
    mask[:, list(next(iter(KINECT20.parts.values())))] = True
    pred = pb.pose_map_prediction(test, mask, weights)
    target = test - test.mean(dim=1, keepdim=True)
    assert torch.allclose(pred[mask], target[mask], atol=1e-2)
    assert torch.equal(pred[~mask], torch.zeros_like(pred[~mask]))


def test_graph_scores_rank_a_perfect_model_first():
    """graph_scores: a 'model' that returns the true targets scores 0, the input-free mean
    direction scores above 0 on frames whose poses vary."""
    pb = load_real_benchmark("pretext_baselines")
    v = KINECT20.num_joints
    frames = torch.randn(64, v, 3, generator=torch.Generator().manual_seed(5))

    class Oracle:
        def eval(self):
            return self

        def reconstruct(self, f, mask):
            return None, f - f.mean(dim=1, keepdim=True)

    weights = pb.fit_pose_map(frames, KINECT20, parts=2, draws=1, seed=0)
    result = pb.graph_scores({"oracle": Oracle()}, frames, KINECT20, parts=2, beta=2.0, draws=2, seed=0,
                             pose_map=weights, directions=pb.mean_directions(frames))
    assert result["oracle"] < 1e-6
    assert result["mean direction"] > 0.1 and set(result) == {"oracle", "mean direction", "linear pose map"}


def test_frozen_encoder_keeps_the_init_and_trains_only_the_rest():
    tune = load_real_benchmark("tune")
    params = default_params().model_copy(update={"method": "skeletonmae_graph"})
    data = SimpleNamespace(layout=KINECT20, x=torch.zeros(1, 1, 8, KINECT20.num_joints, 3))
    free, frozen = tune.init_method(params, data), tune.init_method(params, data, freeze_encoder=True)
    assert all(torch.equal(a, b) for a, b in zip(free.state_dict().values(), frozen.state_dict().values()))
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert all(p.requires_grad for name, p in frozen.named_parameters() if not name.startswith("encoder."))
    assert any(not name.startswith("encoder.") for name, _ in frozen.named_parameters())


def test_gin_joint_embedding_tells_mirrored_joints_apart_and_is_undone():
    """A left joint and its right mirror are the same node of the bone graph up to symmetry: with
    identical ([MASK]-like) features a plain GIN codes them alike, the study's GIN does not; the
    patch is gone after the block."""
    from skelssl.backbones.gin import GIN

    study = load_real_benchmark("gin_joint_embedding")
    original = (GIN.__init__, GIN.encode_nodes)
    cfg = default_params().methods.skeletonmae_graph.backbone
    left, right = KINECT20.left_right[-1]
    same = torch.ones(2, KINECT20.num_joints, cfg.dim)  # every node the same feature vector
    torch.manual_seed(0)
    plain = GIN(cfg, KINECT20, 8)
    assert torch.allclose(plain.encode_nodes(same)[:, left], plain.encode_nodes(same)[:, right], atol=1e-6)
    with study.joint_embedding(1.0):
        model = GIN(cfg, KINECT20, 8)
        assert model.joint_embed.shape == (KINECT20.num_joints, cfg.dim) and model.joint_embed.requires_grad
        nodes = model.encode_nodes(same)
    assert not torch.allclose(nodes[:, left], nodes[:, right], atol=1e-3)
    assert (GIN.__init__, GIN.encode_nodes) == original
    assert not hasattr(GIN(cfg, KINECT20, 8), "joint_embed")
