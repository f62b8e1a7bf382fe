"""CTR-GCN/MAMP body denoising (methods.md §7.2) on hand-built skeleton files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.config import DenoiseParams
from skelssl.data.denoise import denoise, motion
from skelssl.data.ntu import BodyTrack, SkeletonFile, read_skeleton
from skelssl.errors import ParseError

PARAMS = DenoiseParams(min_frames=11, spread_ratio=0.8, noise_fraction=0.69754)


def person(n: int, seed: int, amplitude: float = 0.05, flat: bool = False) -> np.ndarray:
    """(n, 25, 3) joints: a tall narrow body (x spread 0.5, y spread 1.6) moving by `amplitude`.

    Every body has the same shape, so motion order follows `amplitude`.
    """
    shape = np.random.default_rng(0)
    x, y = shape.uniform(-0.25, 0.25, 25), shape.uniform(-0.8, 0.8, 25)
    base = np.stack([x, y, np.full(25, 3.0)], 1)
    base[0, :2], base[1, :2] = (-0.25, -0.8), (0.25, 0.8)  # pin the spreads
    if flat:  # wide and flat: x spread 2.0 > 0.8 * y spread 0.2
        base[:, 0] *= 4
        base[:, 1] /= 8
    drift = amplitude * np.random.default_rng(seed).normal(size=(n, 1, 3))
    return (base + drift).astype(np.float32)


def track(body_id: int, frames, joints: np.ndarray) -> BodyTrack:
    return BodyTrack(body_id, np.asarray(list(frames), dtype=np.int32), joints)


def skeleton(num_valid: int, *tracks: BodyTrack) -> SkeletonFile:
    counts = np.zeros(num_valid, dtype=np.int32)
    for t in tracks:
        counts[t.frames] += 1
    counts = np.maximum(counts, 1)  # every numbered frame held >= 1 body in the file
    return SkeletonFile(Path("t.skeleton"), num_valid, counts, list(tracks))


def test_single_body_passthrough_keeps_zero_frames():
    joints = person(20, 0)
    joints[5] = 0  # single-bodyID files are not denoised: the all-zero frame stays
    out = denoise(skeleton(20, track(1, range(20), joints)), PARAMS)
    assert (out.num_actors, out.num_bodies, out.removed_bodies) == (1, 1, 0)
    assert out.joints.shape == (20, 2, 25, 3) and out.joints.dtype == np.float32
    np.testing.assert_array_equal(out.joints[:, 0], joints)
    assert not out.joints[:, 1].any()


def test_short_body_removed():
    main = track(1, range(30), person(30, 0, amplitude=0.01))
    short = track(2, range(11), person(11, 1, amplitude=0.5))  # 11 <= min_frames
    out = denoise(skeleton(30, main, short), PARAMS)
    assert (out.num_actors, out.num_bodies, out.removed_bodies) == (1, 2, 1)
    np.testing.assert_array_equal(out.joints[:, 0], main.joints)
    assert not out.joints[:, 1].any()
    kept = denoise(skeleton(30, main, track(2, range(12), person(12, 1, 0.5))), PARAMS)
    assert kept.num_actors == 2 and kept.removed_bodies == 0  # 12 frames survive


def test_wide_flat_body_removed_even_with_more_motion():
    real = track(1, range(30), person(30, 0, amplitude=0.01))
    flat = track(2, range(30), person(30, 1, amplitude=0.5, flat=True))
    assert motion(flat.joints) > motion(real.joints)
    out = denoise(skeleton(30, real, flat), PARAMS)
    assert (out.num_actors, out.removed_bodies) == (1, 1)
    np.testing.assert_array_equal(out.joints[:, 0], real.joints)


def test_spread_filter_never_deletes_the_last_body():
    a = track(1, range(30), person(30, 0, flat=True))
    b = track(2, range(30), person(30, 1, flat=True))
    out = denoise(skeleton(30, a, b), PARAMS)  # a deleted, then the visit stops at b
    assert (out.num_actors, out.removed_bodies) == (1, 1)
    np.testing.assert_array_equal(out.joints[:, 0], b.joints)


def test_spread_motion_update_reorders_actors():
    calm = person(40, 0, amplitude=0.05)
    noisy = person(40, 1, amplitude=0.01)
    noisy[:12] = person(12, 2, amplitude=1.0, flat=True)  # 30 % noisy frames, huge motion
    a, b = track(1, range(40), calm), track(2, range(40), noisy)
    assert motion(noisy) > motion(calm)  # raw motion would make `noisy` actor 1
    out = denoise(skeleton(40, a, b), PARAMS)
    assert out.num_actors == 2
    np.testing.assert_array_equal(out.joints[:, 0], calm)
    np.testing.assert_array_equal(out.joints[:, 1], noisy)


def test_non_overlapping_body_ids_merge_into_actor_1():
    first = track(1, range(0, 20), person(20, 0, amplitude=0.2))
    second = track(2, range(20, 45), person(25, 1, amplitude=0.05))
    out = denoise(skeleton(45, first, second), PARAMS)
    assert (out.num_actors, out.num_bodies, out.removed_bodies) == (2, 2, 0)
    np.testing.assert_array_equal(out.joints[:20, 0], first.joints)
    np.testing.assert_array_equal(out.joints[20:, 0], second.joints)
    assert not out.joints[:, 1].any()  # two-slot output, second slot empty (reference)


def test_overlapping_bodies_become_two_actors_ordered_by_motion():
    slow = track(1, range(30), person(30, 0, amplitude=0.02))
    fast = track(2, range(5, 35), person(30, 1, amplitude=0.2))
    out = denoise(skeleton(35, slow, fast), PARAMS)
    assert out.num_actors == 2 and out.joints.shape[0] == 35
    np.testing.assert_array_equal(out.joints[5:35, 0], fast.joints)
    np.testing.assert_array_equal(out.joints[:30, 1], slow.joints)
    assert not out.joints[:5, 0].any() and not out.joints[30:, 1].any()


def test_frames_where_both_actors_are_zero_are_dropped():
    a = track(1, range(12, 40), person(28, 0, amplitude=0.2))
    b = track(2, range(12, 30), person(18, 1, amplitude=0.05))
    c = track(3, range(12), person(12, 2, amplitude=0.01, flat=True))  # spread-filtered
    joints = a.joints.copy()
    joints[8] = 0  # frame 20: actor 1 all zero while actor 2 is present: kept
    joints[-1] = 0  # frame 39: only actor 1 there, all zero: dropped
    a = track(1, range(12, 40), joints)
    out = denoise(skeleton(40, a, b, c), PARAMS)
    assert (out.num_actors, out.num_bodies, out.removed_bodies) == (2, 3, 1)
    assert out.joints.shape[0] == 27  # frames 0-11 (c removed) and 39 dropped
    np.testing.assert_array_equal(out.joints[:, 0], joints[:-1])
    assert out.joints.reshape(27, -1).any(axis=1).all()


def test_reference_actor2_interval_starts_at_frame_0():
    big = track(1, range(0, 50), person(50, 0, amplitude=0.5))
    late = track(2, range(30, 50), person(20, 1, amplitude=0.2))  # overlaps actor 1 -> actor 2
    early = track(3, range(0, 20), person(20, 2, amplitude=0.1))  # overlaps actor 1 and [0, 49]
    out = denoise(skeleton(50, big, late, early), PARAMS)
    assert out.removed_bodies == 1  # discarded although it does not overlap frames 30-49
    assert not out.joints[:30, 1].any()
    np.testing.assert_array_equal(out.joints[30:, 1], late.joints)


def test_reference_intervals_touching_at_one_frame_do_not_overlap():
    a = track(1, range(0, 20), person(20, 0, amplitude=0.5))
    b = track(2, range(19, 40), person(21, 1, amplitude=0.05))  # shares frame 19 with a
    out = denoise(skeleton(40, a, b), PARAMS)
    assert not out.joints[:, 1].any()  # merged into actor 1; b overwrites frame 19
    np.testing.assert_array_equal(out.joints[19:, 0], b.joints)


def test_reference_packs_a_track_with_gaps():
    frames = [*range(0, 10), *range(20, 30)]  # same bodyID, gone for 10 frames
    gappy = track(1, frames, person(20, 0, amplitude=0.5))
    other = track(2, range(30), person(30, 1, amplitude=0.01))
    out = denoise(skeleton(30, gappy, other), PARAMS)
    np.testing.assert_array_equal(out.joints[:20, 0], gappy.joints)  # frames 0-19, as the reference
    assert not out.joints[20:, 0].any()


def test_nothing_left_raises():
    a = track(1, range(5), person(5, 0))
    b = track(2, range(5, 10), person(5, 1))
    with pytest.raises(ParseError, match="no body left") as info:
        denoise(skeleton(10, a, b), PARAMS)
    assert info.value.line == 0
    with pytest.raises(ParseError, match="no body"):
        denoise(SkeletonFile(Path("e.skeleton"), 2, np.zeros(2, np.int32), []), PARAMS)
    zeros = np.zeros((20, 25, 3), np.float32)
    with pytest.raises(ParseError, match="all zero"):
        denoise(skeleton(20, track(1, range(20), zeros), track(2, range(20), zeros)), PARAMS)


def test_real_files_denoise(real_data):
    for path in sorted((real_data("ntu_rgbd") / "skeleton").glob("*.skeleton")):
        sk = read_skeleton(path)
        out = denoise(sk, PARAMS)
        assert out.num_bodies == len(sk.bodies)
        assert 1 <= out.joints.shape[0] <= sk.num_frames
        assert out.joints.reshape(out.joints.shape[0], -1).any(axis=1).all()
        assert out.num_actors == min(len(sk.bodies), 2)
        assert out.joints[:, out.num_actors - 1].any()  # each used slot holds data
        assert out.removed_bodies == 0  # these files hold only real people
