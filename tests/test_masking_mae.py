import pytest
import torch

from skelssl.masking.motion import motion_aware_gumbel_mask, patch_motion, patchify, visible_tokens
from skelssl.masking.spatial_temporal import masked_counts, spatial_temporal_mask


def _gumbel(x, t_patch=2, ratio=0.9, tau=0.8, seed=0):
    return motion_aware_gumbel_mask(x, t_patch, ratio, tau, torch.Generator().manual_seed(seed))


def _moving_joints(batch, frames, moving, joints=25):
    """Joints in `moving` follow a ramp (constant token motion); the others stand still."""
    x = torch.zeros(batch, frames, joints, 3)
    x[:, :, moving] = torch.arange(frames, dtype=torch.float32).view(1, frames, 1, 1)
    return x + 0.5  # still joints are non-zero but motionless


# ---------------------------------------------------------------------------- motion-aware Gumbel


def test_patchify_order_matches_mamp():
    x = torch.arange(2 * 4 * 3 * 2, dtype=torch.float32).view(2, 4, 3, 2)  # (B, T, V, C)
    p = patchify(x, 2)
    assert p.shape == (2, 2, 3, 4)
    # token (segment 1, joint 2) = frames 2, 3 of joint 2, frame-major then coordinate
    assert torch.equal(p[1, 1, 2], torch.cat([x[1, 2, 2], x[1, 3, 2]]))


def test_patch_motion_is_the_token_difference_by_hand():
    # one joint, one coordinate: frames 0, 1, 3, 6, 6, 10 → patches [0,1], [3,6], [6,10]
    x = torch.tensor([0.0, 1.0, 3.0, 6.0, 6.0, 10.0]).view(1, 6, 1, 1)
    m = patch_motion(x, 2)
    # |[3,6]-[0,1]| = [3,5] → 4; |[6,10]-[3,6]| = [3,4] → 3.5; first copies the second
    assert torch.allclose(m, torch.tensor([[[4.0], [4.0], [3.5]]]))


@pytest.mark.parametrize(("frames", "t_patch", "ratio", "visible"),
                         [(8, 2, 0.9, 9), (120, 4, 0.9, 74), (8, 2, 0.5, 50), (8, 4, 0.99, 1)])
def test_gumbel_mask_keeps_exactly_int_l_times_one_minus_r(frames, t_patch, ratio, visible):
    x = torch.randn(5, frames, 25, 3)
    mask = _gumbel(x, t_patch, ratio)
    tokens = frames // t_patch * 25
    assert visible_tokens(tokens, ratio) == visible  # 100 → 9, 750 → 74 at 0.9: MAMP's float truncation
    assert mask.ids_keep.shape == (5, visible) and mask.masked.shape == (5, tokens)
    assert (mask.masked.sum(dim=1) == tokens - visible).all()
    for b in range(5):
        assert torch.equal(mask.ids_keep[b], torch.nonzero(~mask.masked[b]).squeeze(1))


def test_gumbel_mask_is_deterministic_under_a_seed():
    x = torch.randn(4, 8, 25, 3)
    assert torch.equal(_gumbel(x, seed=3).masked, _gumbel(x, seed=3).masked)
    assert not torch.equal(_gumbel(x, seed=3).masked, _gumbel(x, seed=4).masked)


def test_gumbel_mask_prefers_high_motion_tokens():
    # 5 moving joints (40 tokens) and 20 still ones; p_moving / p_still = exp(1/τ) = 3.5 at τ = 0.8
    x = _moving_joints(256, 16, moving=[0, 1, 2, 3, 4])
    masked = _gumbel(x, ratio=0.5, tau=0.8).masked.view(256, 8, 25).float()
    moving_rate, still_rate = masked[..., :5].mean().item(), masked[..., 5:].mean().item()
    assert moving_rate > still_rate + 0.25  # ≈ 0.85 vs ≈ 0.41 for this seed
    assert 0.0 < still_rate < 1.0 and moving_rate < 1.0  # a sample, not a deterministic choice


def test_small_tau_is_near_greedy_and_large_tau_near_uniform():
    # 20 moving joints (160 tokens); ratio 0.75 masks 150 tokens, fewer than the moving ones
    x = _moving_joints(64, 16, moving=list(range(20)))
    greedy = _gumbel(x, ratio=0.75, tau=0.01).masked.view(64, 8, 25)
    assert not greedy[..., 20:].any()  # no still token is ever masked
    soft = _gumbel(x, ratio=0.75, tau=0.8).masked.view(64, 8, 25)
    assert soft[..., 20:].any()  # at τ = 0.8 still tokens do get masked
    flat = _gumbel(x, ratio=0.75, tau=1e4).masked.view(64, 8, 25).float()
    assert abs(flat[..., 20:].mean().item() - 0.75) < 0.05  # τ → ∞: uniform masking


def test_absent_person_gets_uniform_finite_mask():
    masked = _gumbel(torch.zeros(2000, 8, 25, 3)).masked  # no motion: 0/0 guarded, p uniform
    assert (masked.sum(dim=1) == 100 - 9).all()
    assert (masked.float().mean(dim=0) - 0.91).abs().max() < 0.03


# ---------------------------------------------------------------------------- spatial-temporal


def _st(batch=6, segments=8, joints=25, jr=0.6, fr=0.5, seed=0):
    return spatial_temporal_mask(batch, segments, joints, jr, fr, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("segments", "joints", "jr", "fr", "mj", "ms"),
                         [(8, 25, 0.6, 0.5, 15, 4), (30, 25, 0.6, 0.7, 15, 21), (8, 25, 0.4, 0.0, 10, 0),
                          (8, 25, 0.0, 0.25, 0, 2), (4, 25, 0.99, 0.9, 24, 3)])
def test_spatial_temporal_masks_whole_joints_and_segments(segments, joints, jr, fr, mj, ms):
    assert masked_counts(segments, joints, jr, fr) == (mj, ms)
    mask = _st(6, segments, joints, jr, fr)
    grid = mask.masked.view(6, segments, joints)
    full_joints = grid.all(dim=1)  # (B, V): joints masked in every segment
    full_segments = grid.all(dim=2)  # (B, S): segments masked for every joint
    visible = (segments - ms) * (joints - mj)
    assert mask.ids_keep.shape == (6, visible)
    for b in range(6):
        assert full_joints[b].sum() == mj
        assert full_segments[b].sum() == ms
        union = full_segments[b][:, None] | full_joints[b][None, :]
        assert torch.equal(grid[b], union)  # nothing else is masked
        assert torch.equal(mask.ids_keep[b], torch.nonzero(~mask.masked[b]).squeeze(1))


def test_spatial_temporal_draws_uniformly_per_sample():
    grid = _st(batch=2000, jr=0.6, fr=0.5).masked.view(2000, 8, 25)
    joint_rate = grid.all(dim=1).float().mean(dim=0)  # per joint, ≈ 15/25
    segment_rate = grid.all(dim=2).float().mean(dim=0)  # per segment, ≈ 4/8
    assert (joint_rate - 0.6).abs().max() < 0.05
    assert (segment_rate - 0.5).abs().max() < 0.05
    assert not torch.equal(grid[0], grid[1])  # samples draw independently


def test_spatial_temporal_is_deterministic_and_refuses_empty_masks():
    assert torch.equal(_st(seed=1).masked, _st(seed=1).masked)
    assert not torch.equal(_st(seed=1).masked, _st(seed=2).masked)
    with pytest.raises(ValueError, match="mask no token"):
        _st(jr=0.0, fr=0.0)
