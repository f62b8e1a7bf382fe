"""Temporal kernels: valid length and MAMP/STTFormer test-time crop + resize (methods.md §7.3)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def valid_length(x):
    """Number of frames whose sum over (M, V, C) of ``|values|`` is non-zero.

    Like MAMP's feeder (``valid_frame_num``) this *counts* non-zero frames and the callers
    assume they are contiguous from frame 0 (true for CTR-GCN npz data: zero padding at the
    end). Unlike MAMP it sums absolute values, so a frame whose values cancel is still valid.
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    count = 0
    for t in range(n_frames):
        total = 0.0
        for m in range(n_persons):
            for v in range(n_joints):
                for c in range(n_coords):
                    total += abs(np.float64(x[t, m, v, c]))
        if total != 0.0:
            count += 1
    return count


@numba.njit(cache=True)
def crop_resize(x, frames, crop_ratio):
    """MAMP/STTFormer test-time ``valid_crop_resize`` (methods.md §7.3), generalised.

    With F = :func:`valid_length`, ``bias = int((1 - crop_ratio) * F / 2)`` frames are removed
    at each end of ``x[:F]`` (0.95 = MAMP's test crop, 1.0 keeps all), and the window of length
    L is linearly resampled along time to ``frames`` frames with the convention of
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` that MAMP uses:
    output frame i samples ``src = (i + 0.5) * L / frames - 0.5`` clamped to [0, L-1], blending
    ``floor(src)`` and ``floor(src) + 1`` (clamped to L-1). L == 1 repeats the single frame;
    F == 0 gives all zeros. As in MAMP, absent (zero) person-frames are interpolated like
    present ones, so a person appearing/disappearing blends towards zero at that boundary;
    a person absent in both source frames stays exactly zero.
    Returns ``(frames, M, V, C)`` in the input dtype (arithmetic in float64).
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    if frames < 1:
        raise ValueError("crop_resize: frames must be >= 1")
    if not (crop_ratio > 0.0 and crop_ratio <= 1.0):
        raise ValueError("crop_resize: crop_ratio must be in (0, 1]")
    out = np.zeros((frames, n_persons, n_joints, n_coords), dtype=x.dtype)
    n_valid = valid_length(x)
    if n_valid == 0:
        return out
    bias = int((1.0 - crop_ratio) * n_valid / 2)
    start = bias
    length = n_valid - 2 * bias  # >= 1 because bias < n_valid / 2 for crop_ratio > 0
    scale = length / frames
    for i in range(frames):
        src = (i + 0.5) * scale - 0.5
        if src < 0.0:
            src = 0.0
        if src > length - 1:
            src = np.float64(length - 1)
        i0 = int(src)
        i1 = min(i0 + 1, length - 1)
        w1 = src - i0
        w0 = 1.0 - w1
        for m in range(n_persons):
            for v in range(n_joints):
                for c in range(n_coords):
                    a = np.float64(x[start + i0, m, v, c])
                    b = np.float64(x[start + i1, m, v, c])
                    out[i, m, v, c] = w0 * a + w1 * b
    return out
