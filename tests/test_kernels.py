"""numba preprocessing kernels vs independent vectorised NumPy references (and torch for resize).

Every kernel is checked three ways on tiny seeded arrays: the jitted dispatcher, its
``py_func`` (the plain-Python path, visible to coverage) and a NumPy reference written here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelssl.kernels import (
    align_view,
    center,
    crop_resize,
    motion,
    motion_magnitude,
    preprocess_batch,
    preprocess_batch_kernel,
    rms_scale,
    valid_length,
)
from skelssl.skeleton import NTU25

M, V, C = 2, 25, 3
HIP_L, HIP_R = 12, 16


# --------------------------------------------------------------------------- sample factory
def make_sample(rng, n_valid, pad=0, *, second="present", first_start=0):
    """(n_valid + pad, M, V, C) float32; trailing ``pad`` frames zero (CTR-GCN padding).

    second: "present" | "absent" (all zero) | "gaps" (absent in some frames).
    first_start: person 0 absent in frames [0, first_start) (person 1 present there).
    """
    x = rng.normal(0.0, 1.0, size=(n_valid + pad, M, V, C)).astype(np.float32)
    x[:, :, :, 1] += 1.0  # not centred before the test
    x[n_valid:] = 0
    if second == "absent":
        x[:, 1] = 0
    elif second == "gaps" and n_valid > 0:
        drop = rng.random(n_valid) < 0.4
        drop[0] = True
        x[:n_valid][drop, 1] = 0
    if first_start:
        x[:first_start, 0] = 0
    return x


CASES = [  # (n_valid, pad, second, first_start)
    (7, 0, "present", 0),
    (9, 4, "absent", 0),
    (12, 3, "gaps", 0),
    (6, 2, "present", 2),  # person 0 starts late, person 1 present before
    (1, 0, "present", 0),  # F = 1
    (1, 3, "gaps", 0),
    (0, 5, "present", 0),  # F = 0: all zero
    (40, 5, "gaps", 0),  # longer than the output length
]
IDS = [f"F{n}+{p}-{s}-s{f}" for n, p, s, f in CASES]


@pytest.fixture(params=range(len(CASES)), ids=IDS)
def sample(request):
    n, pad, second, start = CASES[request.param]
    rng = np.random.default_rng(1000 + request.param)
    return make_sample(rng, n, pad, second=second, first_start=start)


def both(kernel, *args):
    """Run the jitted kernel and its py_func; they must agree, return the jitted result."""
    jit = kernel(*args)
    py = kernel.py_func(*args)
    if isinstance(jit, np.ndarray):
        assert jit.dtype == py.dtype and jit.shape == py.shape
        np.testing.assert_allclose(jit, py, rtol=1e-6, atol=1e-6)
    else:
        assert jit == py
    return jit


# --------------------------------------------------------------------------- NumPy references
def ref_present(x):
    return np.any(x != 0, axis=(2, 3))  # (F, M)


def ref_origin_frame(x):
    p0 = ref_present(x)[:, 0]
    return int(np.argmax(p0)) if p0.any() else None


def ref_center(x, joint):
    t0 = ref_origin_frame(x)
    if t0 is None:
        return x.copy()
    out = x - x[t0, 0, joint]
    out[~ref_present(x)] = 0
    return out


def ref_align(x, left, right):
    t0 = ref_origin_frame(x)
    if t0 is None:
        return x.copy()
    d = x[t0, 0, right].astype(np.float64) - x[t0, 0, left]
    if np.hypot(d[0], d[2]) < 1e-6:
        return x.copy()
    theta = np.arctan2(d[2], d[0])  # rotate by -theta about y
    rot = np.array(
        [[np.cos(theta), 0, np.sin(theta)], [0, 1, 0], [-np.sin(theta), 0, np.cos(theta)]]
    )
    out = (x.astype(np.float64) @ rot.T).astype(x.dtype)
    out[~ref_present(x)] = 0
    return out


def ref_valid_length(x):
    return int(np.count_nonzero(np.abs(x).sum(axis=(1, 2, 3)) != 0))


def ref_window(x, crop_ratio):
    n = ref_valid_length(x)
    bias = int((1 - crop_ratio) * n / 2)
    return x[bias : n - bias]


def ref_crop_resize(x, frames, crop_ratio):
    win = ref_window(x, crop_ratio).astype(np.float64)
    length = win.shape[0]
    if length == 0:
        return np.zeros((frames,) + x.shape[1:], x.dtype)
    src = np.clip((np.arange(frames) + 0.5) * length / frames - 0.5, 0, length - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, length - 1)
    w = (src - i0)[:, None, None, None]
    return ((1 - w) * win[i0] + w * win[i1]).astype(x.dtype)


def torch_crop_resize(x, frames, crop_ratio):
    """MAMP ``valid_crop_resize`` test branch, verbatim layout: (C, T, V, M) image."""
    win = ref_window(x, crop_ratio)
    length = win.shape[0]
    data = torch.from_numpy(np.ascontiguousarray(win.transpose(3, 0, 2, 1)))  # C, L, V, M
    data = data.permute(0, 2, 3, 1).contiguous().view(C * V * M, length)[None, None]
    data = F.interpolate(data, size=(C * V * M, frames), mode="bilinear", align_corners=False)
    data = data.squeeze().view(C, V, M, frames).permute(0, 3, 1, 2).contiguous().numpy()
    return data.transpose(1, 3, 2, 0)  # -> (frames, M, V, C)


def ref_motion(x):
    d = np.zeros_like(x)
    d[:-1] = x[1:] - x[:-1]
    p = ref_present(x)
    both_present = np.zeros_like(p)
    both_present[:-1] = p[1:] & p[:-1]
    d[~both_present] = 0
    return d


def ref_motion_magnitude(x):
    return np.linalg.norm(ref_motion(x).astype(np.float64), axis=-1).astype(x.dtype)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


# --------------------------------------------------------------------------- centre
def test_center_matches_reference(sample):
    out = both(center, sample, NTU25.center)
    np.testing.assert_array_equal(out, ref_center(sample, NTU25.center))
    absent = ~ref_present(sample)
    assert np.all(out[absent] == 0)
    t0 = ref_origin_frame(sample)
    if t0 is not None:
        assert np.all(out[t0, 0, NTU25.center] == 0)  # exactly zero
        assert not np.array_equal(out, sample)


def test_center_without_person0_is_copy():
    x = make_sample(np.random.default_rng(1), 5, 1)
    x[:, 0] = 0
    out = both(center, x, 1)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_center_rejects_bad_joint():
    x = np.zeros((2, M, V, C), np.float32)
    with pytest.raises(ValueError):
        center(x, V)


# --------------------------------------------------------------------------- align_view
def test_align_view_matches_reference(sample):
    x = ref_center(sample, NTU25.center)
    out = both(align_view, x, HIP_L, HIP_R)
    np.testing.assert_allclose(out, ref_align(x, HIP_L, HIP_R), rtol=1e-5, atol=1e-5)
    assert np.all(out[~ref_present(x)] == 0)
    t0 = ref_origin_frame(x)
    if t0 is not None:
        hip = out[t0, 0, HIP_R].astype(np.float64) - out[t0, 0, HIP_L]
        assert abs(hip[2]) < 1e-5 and hip[0] > 0
        np.testing.assert_array_equal(out[..., 1], x[..., 1])  # y untouched
        for child, parent in NTU25.bones:
            before = np.linalg.norm(x[:, :, child] - x[:, :, parent], axis=-1)
            after = np.linalg.norm(out[:, :, child] - out[:, :, parent], axis=-1)
            np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_align_view_flips_a_backwards_hip_vector():
    x = np.zeros((2, M, V, C), np.float32)
    x[:, 0] = 0.1
    x[:, 0, HIP_L] = [1.0, 0.0, 0.0]
    x[:, 0, HIP_R] = [-1.0, 0.0, 0.0]  # points along -x: needs a 180 degree turn
    out = both(align_view, x, HIP_L, HIP_R)
    np.testing.assert_allclose(out[0, 0, HIP_R], [1.0, 0.0, 0.0], atol=1e-6)


def test_align_view_degenerate_is_copy():
    x = make_sample(np.random.default_rng(2), 4)
    x[0, 0, HIP_R] = x[0, 0, HIP_L] + np.array([0, 0.5, 0], np.float32)  # vertical only
    out = both(align_view, x, HIP_L, HIP_R)
    np.testing.assert_array_equal(out, x)


# --------------------------------------------------------------------------- rms_scale
def ref_rms_scale(x):
    present = ref_present(x)
    pts = x[present].reshape(-1, x.shape[-1]).astype(np.float64)  # every joint of present person-frames
    if len(pts) == 0:
        return x.copy()
    rms = np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean())
    if rms < 1e-6:
        return x.copy()
    out = (x.astype(np.float64) / rms).astype(np.float32)
    out[~present] = 0
    return out


def test_rms_scale_matches_reference(sample):
    out = both(rms_scale, sample)
    np.testing.assert_allclose(out, ref_rms_scale(sample), rtol=1e-5, atol=1e-6)
    present = ref_present(sample)
    assert not out[~present].any()  # absent person-frames stay exactly zero
    if present.any() and len(sample) > 1:
        pts = out[present].reshape(-1, C).astype(np.float64)
        assert np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean()) == pytest.approx(1.0, rel=1e-4)


def test_rms_scale_removes_body_size_and_distance():
    x = make_sample(np.random.default_rng(5), 10)
    small, large = both(rms_scale, x), both(rms_scale, (3.5 * x).astype(np.float32))
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-6)


def test_rms_scale_degenerate_is_copy():
    x = np.zeros((3, M, V, C), np.float32)
    x[:, 0] = 0.25  # every joint at one point: no spread
    np.testing.assert_array_equal(both(rms_scale, x), x)


def test_preprocess_batch_scale_rms_is_center_then_scale():
    rng = np.random.default_rng(8)
    samples = [make_sample(rng, n, second="gaps") for n in (12, 20)]
    joints = np.ascontiguousarray(np.concatenate(samples))
    offsets = np.array([0, 12, 32], np.int64)
    x, mot = preprocess_batch(joints, offsets, 12, 1.0, NTU25.center, False, HIP_L, HIP_R, "rms")
    for i, s in enumerate(samples):
        want = crop_resize(rms_scale(center(s, NTU25.center)), 12, 1.0)
        np.testing.assert_allclose(x[i], want.transpose(1, 0, 2, 3), rtol=1e-5, atol=1e-6)
    plain, _ = preprocess_batch(joints, offsets, 12, 1.0, NTU25.center, False, HIP_L, HIP_R)
    assert not np.allclose(plain, x)
    with pytest.raises(ValueError, match="scale"):
        preprocess_batch(joints, offsets, 12, 1.0, NTU25.center, False, HIP_L, HIP_R, "max")


# --------------------------------------------------------------------------- valid_length
def test_valid_length_matches_reference(sample):
    assert both(valid_length, sample) == ref_valid_length(sample)


def test_valid_length_counts_frames_with_cancelling_values():
    x = np.zeros((4, M, V, C), np.float32)
    x[0, 0, 0] = [1.0, -1.0, 0.0]  # sums to 0 but is a valid frame (|.| rule)
    x[1, 1, 3, 2] = 2.0
    assert both(valid_length, x) == 2


# --------------------------------------------------------------------------- crop_resize
@pytest.mark.parametrize("frames", [1, 5, 16])
@pytest.mark.parametrize("crop_ratio", [1.0, 0.95, 0.5])
def test_crop_resize_matches_numpy_and_torch(sample, frames, crop_ratio):
    out = both(crop_resize, sample, frames, crop_ratio)
    assert out.shape == (frames, M, V, C) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref_crop_resize(sample, frames, crop_ratio), atol=1e-6)
    if ref_valid_length(sample) == 0:
        assert np.all(out == 0)
    else:
        torch_out = torch_crop_resize(sample, frames, crop_ratio)  # float32 maths in torch
        np.testing.assert_allclose(out, torch_out, rtol=1e-5, atol=1e-6)
    # a person absent in the whole window stays exactly zero
    win_present = ref_present(ref_window(sample, crop_ratio))
    for m in range(M):
        if not win_present[:, m].any():
            assert np.all(out[:, m] == 0)


def test_crop_resize_same_length_is_identity():
    x = make_sample(np.random.default_rng(3), 10, 6)
    np.testing.assert_array_equal(both(crop_resize, x, 10, 1.0), x[:10])


def test_crop_resize_mamp_test_crop_bias():
    # F = 100, crop 0.95: int(0.05 * 100 / 2) = 2 frames removed at each end -> 96 frames;
    # resizing 96 -> 96 is exact, so the output is x[2:98]
    x = make_sample(np.random.default_rng(4), 100, 20)
    np.testing.assert_array_equal(both(crop_resize, x, 96, 0.95), x[2:98])


def test_crop_resize_length_one_repeats_frame():
    x = make_sample(np.random.default_rng(5), 1, 2)
    out = both(crop_resize, x, 4, 1.0)
    np.testing.assert_array_equal(out, np.repeat(x[:1], 4, axis=0))


@pytest.mark.parametrize("frames, ratio", [(0, 1.0), (4, 0.0), (4, 1.5)])
def test_crop_resize_rejects_bad_arguments(frames, ratio):
    with pytest.raises(ValueError):
        crop_resize(np.ones((3, M, V, C), np.float32), frames, ratio)


# --------------------------------------------------------------------------- motion
def test_motion_matches_reference(sample):
    out = both(motion, sample)
    np.testing.assert_array_equal(out, ref_motion(sample))
    assert np.all(out[-1] == 0) if len(out) else True
    mag = both(motion_magnitude, sample)
    assert mag.shape == sample.shape[:3] and mag.dtype == np.float32
    np.testing.assert_allclose(mag, ref_motion_magnitude(sample), rtol=1e-6, atol=1e-6)


def test_motion_is_zero_at_appear_and_disappear():
    x = np.ones((4, M, V, C), np.float32)
    x[1, 1] = 0  # person 1 disappears at frame 1, reappears at frame 2
    x[2, 1] = 5.0
    d = both(motion, x)
    assert np.all(d[0, 1] == 0) and np.all(d[1, 1] == 0)
    np.testing.assert_array_equal(d[2, 1], -4.0)
    np.testing.assert_array_equal(d[:, 0], 0.0)


def test_motion_magnitude_rotation_invariant():
    rng = np.random.default_rng(6)
    x = make_sample(rng, 20, 3, second="gaps")
    rot = random_rotation(rng).astype(np.float32)
    xr = (x @ rot.T).astype(np.float32)  # absent frames stay exactly zero
    assert not np.allclose(xr, x)
    np.testing.assert_allclose(
        both(motion_magnitude, xr), both(motion_magnitude, x), rtol=1e-4, atol=1e-5
    )


# --------------------------------------------------------------------------- batch driver
def make_batch(seed, lengths):
    rng = np.random.default_rng(seed)
    kinds = ["present", "absent", "gaps"]
    samples = [
        make_sample(rng, n, int(rng.integers(0, 3)), second=kinds[i % 3])
        for i, n in enumerate(lengths)
    ]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in samples])]).astype(np.int64)
    joints = np.ascontiguousarray(np.concatenate(samples, axis=0), dtype=np.float32)
    return joints, offsets, samples


@pytest.mark.parametrize("scale", ["none", "rms"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("center_joint", [-1, 1])
def test_preprocess_batch_equals_single_sample_loop(align, center_joint, scale):
    joints, offsets, samples = make_batch(7, [0, 1, 5, 12, 30, 3])
    frames, ratio = 8, 0.95
    xs, mot = preprocess_batch(joints, offsets, frames, ratio, center_joint, align, HIP_L, HIP_R, scale)
    xs_py, mot_py = preprocess_batch_kernel.py_func(
        joints, offsets, frames, ratio, center_joint, align, HIP_L, HIP_R, scale == "rms"
    )
    assert xs.shape == (len(samples), M, frames, V, C) and xs.dtype == np.float32
    assert mot.shape == (len(samples), M, frames, V) and mot.dtype == np.float32
    np.testing.assert_allclose(xs, xs_py, atol=1e-6)
    np.testing.assert_allclose(mot, mot_py, atol=1e-6)
    for i, s in enumerate(samples):
        ref = s
        if center_joint >= 0:
            ref = ref_center(ref, center_joint)
        if align:
            ref = ref_align(ref, HIP_L, HIP_R)
        if scale == "rms":
            ref = ref_rms_scale(ref)
        clip = ref_crop_resize(ref, frames, ratio)
        np.testing.assert_allclose(xs[i], clip.transpose(1, 0, 2, 3), atol=1e-5)
        np.testing.assert_allclose(
            mot[i], ref_motion_magnitude(clip).transpose(1, 0, 2), atol=1e-5
        )
    assert np.all(xs[0] == 0) and np.all(mot[0] == 0)  # empty sample


def test_preprocess_batch_empty():
    xs, mot = preprocess_batch(np.zeros((0, M, V, C), np.float32), np.zeros(1, np.int64), 4)
    assert xs.shape == (0, M, 4, V, C) and mot.shape == (0, M, 4, V)


def _good():
    joints, offsets, _ = make_batch(8, [3, 4])
    return {"joints": joints, "offsets": offsets, "frames": 4}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"joints": lambda j: j.astype(np.float64)}, "float32"),
        ({"joints": lambda j: j[:, :, :, 0]}, "shape"),
        ({"joints": lambda j: np.asfortranarray(j)}, "contiguous"),
        ({"offsets": lambda o: o.astype(np.int32)}, "int64"),
        ({"offsets": lambda o: o[:-1]}, "end at"),
        ({"offsets": lambda o: np.array([0, o[-1] + 1, o[-1]], np.int64)}, "non-decreasing"),
        ({"frames": lambda f: 0}, "frames"),
        ({"frames": lambda f: 4.0}, "frames"),
        ({"crop_ratio": lambda r: 0.0}, "crop_ratio"),
        ({"center_joint": lambda c: V}, "center_joint"),
        ({"align": lambda a: True, "right": lambda r: V}, "out of range"),
    ],
)
def test_preprocess_batch_validates(change, message):
    kwargs = _good()
    for key, fn in change.items():
        kwargs[key] = fn(kwargs.get(key))
    with pytest.raises(ValueError, match=message):
        preprocess_batch(**kwargs)
