"""numba denoising (`skelssl.data.ntu_denoise`) == `skelssl.data.denoise.denoise`, bit for bit,
on real files, synthesized files and random multi-body tracks (noisy, short, gapped, tied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.config import DenoiseParams, SynthesizeParams
from skelssl.data.denoise import Denoised, denoise
from skelssl.data.ntu import BodyTrack, SkeletonFile, read_skeleton
from skelssl.data.synth import synthesize
from skelssl.errors import ParseError
from skelssl.data.ntu_denoise import _motion, denoise_fast, read_denoised

from helpers import default_params

PARAMS = DenoiseParams(min_frames=11, spread_ratio=0.8, noise_fraction=0.69754)


def assert_same(fast: Denoised, ref: Denoised) -> None:
    assert fast.joints.dtype == ref.joints.dtype and fast.joints.shape == ref.joints.shape
    assert fast.joints.tobytes() == ref.joints.tobytes()
    assert (fast.num_actors, fast.num_bodies, fast.removed_bodies) == (
        ref.num_actors, ref.num_bodies, ref.removed_bodies)


def same_outcome(sk: SkeletonFile, params: DenoiseParams = PARAMS) -> str:
    """Both give the same result or the same ParseError; returns which."""
    try:
        ref = denoise(sk, params)
    except ParseError as exc:
        with pytest.raises(ParseError) as info:
            denoise_fast(sk, params)
        assert str(info.value) == str(exc)
        return "error"
    assert_same(denoise_fast(sk, params), ref)
    return "ok"


def test_motion_is_numpys_float32_variance_sum():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 40, 333, 2000):
        joints = (rng.normal(0, rng.choice([0.01, 1, 50]), (n, 25, 3)) + [0.1, 0.5, 3]).astype(np.float32)
        expected = np.sum(np.var(joints.reshape(-1, 3), axis=0))
        rows = np.arange(n)
        assert np.float32(_motion(joints, rows)).tobytes() == expected.tobytes()
        sub = np.flatnonzero(rng.random(n) < 0.5) if n > 2 else rows
        got = np.float32(_motion(joints, sub))
        assert got.tobytes() == np.sum(np.var(joints[sub].reshape(-1, 3), axis=0)).tobytes()


def test_real_files(real_data):
    files = sorted((real_data("ntu_rgbd") / "skeleton").glob("*.skeleton"))
    multi = 0
    for path in files:
        sk = read_skeleton(path)
        multi += len(sk.bodies) > 1
        assert same_outcome(sk) == "ok"
        assert_same(read_denoised(path, PARAMS), denoise(sk, PARAMS))
    assert multi == 7  # SOURCE.md: 7 two-person sequences


def test_synthesized_files_with_many_spurious_bodies(tmp_path):
    cfg = default_params().synthesize.model_dump()
    cfg.update(classes=8, subjects=3, frames={"min": 14, "max": 30})
    cfg["noise"].update(spurious_body_prob=0.9, zero_body_frame_prob=0.1)
    paths = synthesize(SynthesizeParams.model_validate(cfg), tmp_path)
    outcomes = {"ok": 0, "error": 0}
    multi = 0
    for path in paths:
        sk = read_skeleton(path)
        multi += len(sk.bodies) > 1
        outcomes[same_outcome(sk)] += 1
    assert multi > len(paths) // 2 and outcomes["ok"] > 0


def random_skeleton(rng: np.random.Generator) -> SkeletonFile:
    """2-6 bodies: random lengths (short ones included), gaps, wide/flat (noisy) frames, ties."""
    num_valid = int(rng.integers(5, 60))
    tracks = []
    for k in range(int(rng.integers(2, 7))):
        length = int(rng.integers(1, num_valid + 1))
        if rng.random() < 0.3:  # vanishes and comes back
            frames = np.sort(rng.choice(num_valid, size=length, replace=False))
        else:
            start = int(rng.integers(0, num_valid - length + 1))
            frames = np.arange(start, start + length)
        joints = rng.normal(0, 0.3, (length, 25, 3))
        joints[..., 1] *= rng.choice([0.1, 3.0])  # flat (noisy) or tall bodies
        noisy = rng.random(length) < rng.random()
        joints[noisy, :, 0] *= 10
        joints += [rng.normal(), 0, 3]
        if rng.random() < 0.1:
            joints[rng.random(length) < 0.5] = 0  # all-zero frames
        if tracks and rng.random() < 0.15:  # a tie: same joints as an earlier body
            prev = tracks[-1]
            frames, joints = prev.frames.copy(), prev.joints.copy()
        tracks.append(BodyTrack(100 + k, frames.astype(np.int32), joints.astype(np.float32)))
    counts = np.zeros(num_valid, dtype=np.int32)
    for t in tracks:
        np.add.at(counts, t.frames, 1)
    return SkeletonFile(Path("r.skeleton"), num_valid, np.maximum(counts, 1), tracks)


@pytest.mark.parametrize("seed", range(4))
def test_random_tracks(seed):
    rng = np.random.default_rng(seed)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(150):
        params = PARAMS if rng.random() < 0.7 else DenoiseParams(
            min_frames=int(rng.integers(1, 20)), spread_ratio=float(rng.uniform(0.1, 3)),
            noise_fraction=float(rng.uniform(0.05, 0.95)))
        outcomes[same_outcome(random_skeleton(rng), params)] += 1
    assert outcomes["ok"] > 50 and outcomes["error"] > 0


def test_errors_are_the_reference_errors():
    short = [BodyTrack(i, np.arange(3, dtype=np.int32), np.ones((3, 25, 3), np.float32)) for i in (1, 2)]
    sk = SkeletonFile(Path("s.skeleton"), 3, np.full(3, 2, np.int32), short)
    with pytest.raises(ParseError, match="all 2 bodies are present in <= 11 frames"):
        denoise_fast(sk, PARAMS)
    zeros = [BodyTrack(i, np.arange(20, dtype=np.int32), np.zeros((20, 25, 3), np.float32)) for i in (1, 2)]
    sk = SkeletonFile(Path("z.skeleton"), 20, np.full(20, 2, np.int32), zeros)
    with pytest.raises(ParseError, match="every frame is all zero"):
        denoise_fast(sk, PARAMS)
