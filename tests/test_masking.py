import pytest
import torch

from skelssl.masking import motion_aware_tube_mask, token_motion
from skelssl.masking.tube import visible_joints


def _mask(motion, ratio=0.9, tube=2, weight=0.1, seed=0):
    return motion_aware_tube_mask(motion, ratio, tube, weight, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("segments", "joints", "ratio", "tube"),
                         [(8, 25, 0.9, 2), (30, 25, 0.9, 5), (7, 25, 0.8, 3), (4, 20, 0.5, 4)])
def test_exact_ratio_and_consistency(segments, joints, ratio, tube):
    motion = torch.rand(6, segments, joints)
    mask = _mask(motion, ratio, tube)
    keep = visible_joints(joints, ratio)
    assert mask.ids_keep.shape == (6, segments * keep)
    assert mask.masked.shape == (6, segments * joints)
    assert (mask.masked.sum(dim=1) == segments * (joints - keep)).all()
    # ids_keep are exactly the unmasked positions, sorted
    for b in range(6):
        assert torch.equal(mask.ids_keep[b], torch.nonzero(~mask.masked[b]).squeeze(1))


def test_paper_ratio_keeps_two_of_25_joints():
    mask = _mask(torch.rand(2, 30, 25), ratio=0.9, tube=5)
    assert mask.masked.float().mean().item() == pytest.approx(23 / 25)


def test_masks_persist_inside_a_tube():
    segments, joints, tube = 6, 25, 3
    mask = _mask(torch.rand(4, segments, joints), tube=tube).masked.view(4, segments, joints)
    for start in range(0, segments, tube):
        block = mask[:, start:start + tube]
        assert (block == block[:, :1]).all()
    assert not torch.equal(mask[:, 0], mask[:, tube])  # different tubes draw independently


def test_deterministic_under_a_seed():
    motion = torch.rand(4, 8, 25)
    assert torch.equal(_mask(motion, seed=3).masked, _mask(motion, seed=3).masked)
    assert not torch.equal(_mask(motion, seed=3).masked, _mask(motion, seed=4).masked)


def test_high_motion_joints_are_masked():
    # joint 0 moves, the others are still: with weight >= 1 its score exceeds every still joint's
    motion = torch.zeros(16, 8, 25)
    motion[:, :, 0] = 1.0
    for seed in range(5):
        mask = _mask(motion, weight=1.0, seed=seed).masked.view(16, 8, 25)
        assert mask[:, :, 0].all()
    # with weight 0 the choice is uniform, and joint 0 is visible sometimes
    uniform = torch.stack([_mask(motion, weight=0.0, seed=s).masked.view(16, 8, 25) for s in range(5)])
    assert not uniform[..., 0].all()


def test_token_motion_averages_frames():
    motion = torch.arange(2 * 8 * 3, dtype=torch.float32).view(2, 8, 3)
    tokens = token_motion(motion, 4)
    assert tokens.shape == (2, 2, 3)
    assert torch.allclose(tokens[0, 1, 2], motion[0, 4:8, 2].mean())
