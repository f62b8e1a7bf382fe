"""numba version of the CTR-GCN/SGN body denoising (`skelssl.data.denoise`, methods.md §7.2).

`denoise_fast(skeleton, params)` returns exactly what `skelssl.data.denoise.denoise` returns
(same joints bit for bit, same actor/body counts) and raises the same errors; it only replaces
NumPy calls on small arrays (their call overhead was a third of the time per NTU file) by loops:

- motion = the float32 sum of the per-coordinate float32 variances of all joint positions,
  computed as NumPy computes `np.var(joints.reshape(-1, 3), axis=0)` over a C-ordered (n, 3)
  array: the mean and the squared deviations summed row by row in float32, divided by n in
  float32; the three variances then added left to right. *Unverified beyond testing*: that NumPy
  keeps this summation order (checked bit for bit on real, synthetic and random tracks with
  NumPy 2.4; tests/test_ntu_denoise.py repeats the check);
- spreads are exact (max - min of float32), compared in float64 as there;
- the stable descending sort by motion, the actor slots and the all-zero frame removal follow the
  reference rules listed in `skelssl.data.denoise`.
Files with at most one body, a non-finite motion (NaN would make the sort order depend on the
sorting algorithm) or nothing left to output go through `skelssl.data.denoise.denoise` itself.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from skelssl.config import DenoiseParams
from skelssl.data.denoise import Denoised, denoise
from skelssl.data.ntu import SkeletonFile
from skelssl.data.ntu_parse import read_skeleton_fast

OK = 0
REFERENCE = 1  # let skelssl.data.denoise.denoise handle the file (it raises, or handles NaN)


@numba.njit(cache=True, nogil=True)
def _motion(joints, rows):
    """np.sum(np.var(joints[rows].reshape(-1, 3), axis=0)) in NumPy's float32 order."""
    n = np.float32(rows.shape[0] * joints.shape[1])
    acc = np.zeros(3, dtype=np.float32)
    for r in rows:
        for v in range(joints.shape[1]):
            for c in range(3):
                acc[c] += joints[r, v, c]
    mean = np.empty(3, dtype=np.float32)
    for c in range(3):
        mean[c] = acc[c] / n
    sq = np.zeros(3, dtype=np.float32)
    for r in rows:
        for v in range(joints.shape[1]):
            for c in range(3):
                d = joints[r, v, c] - mean[c]
                sq[c] += d * d
    return (sq[0] / n + sq[1] / n) + sq[2] / n


@numba.njit(cache=True, nogil=True)
def _overlaps(start_a, end_a, start_b, end_b):
    return min(end_a, end_b) - max(start_a, start_b) > 0


@numba.njit(cache=True, nogil=True)
def denoise_tracks(num_valid, offsets, frames, joints, min_frames, spread_ratio, noise_fraction):
    """Denoise tracks k = rows offsets[k]:offsets[k + 1] of `frames` (int32 valid-frame indices)
    and `joints` (float32 (occurrences, 25, 3)); at least 2 tracks.

    Returns ``(status, out, num_actors, removed_bodies)``: out float32 (F', 2, 25, 3).
    """
    tracks = offsets.shape[0] - 1
    num_joints = joints.shape[1]
    empty = np.zeros((0, 2, num_joints, 3), dtype=np.float32)
    motion = np.empty(tracks, dtype=np.float32)
    for k in range(tracks):
        motion[k] = _motion(joints, np.arange(offsets[k], offsets[k + 1]))
    alive = np.empty(tracks, dtype=np.int64)
    count = 0
    for k in range(tracks):  # length filter
        if offsets[k + 1] - offsets[k] > min_frames:
            alive[count] = k
            count += 1
    if count == 0:
        return REFERENCE, empty, 0, 0
    if count > 1:  # spread filter, in order of first appearance, never deleting the last body
        keep = np.ones(count, dtype=np.bool_)
        left = count
        for i in range(count):
            if left == 1:
                break
            k = alive[i]
            length = offsets[k + 1] - offsets[k]
            valid = np.empty(length, dtype=np.bool_)
            num_valid_frames = 0
            for r in range(length):
                lo_x = hi_x = joints[offsets[k] + r, 0, 0]
                lo_y = hi_y = joints[offsets[k] + r, 0, 1]
                for v in range(1, num_joints):
                    x = joints[offsets[k] + r, v, 0]
                    y = joints[offsets[k] + r, v, 1]
                    lo_x = min(lo_x, x)
                    hi_x = max(hi_x, x)
                    lo_y = min(lo_y, y)
                    hi_y = max(hi_y, y)
                valid[r] = np.float64(hi_x - lo_x) <= spread_ratio * np.float64(hi_y - lo_y)
                num_valid_frames += valid[r]
            num_noise = length - num_valid_frames
            if num_noise == 0:
                continue
            if num_noise / np.float64(length) >= noise_fraction:
                keep[i] = False
                left -= 1
            else:
                rows = offsets[k] + np.flatnonzero(valid)
                m = _motion(joints, rows)
                if m < motion[k]:
                    motion[k] = m
        alive = alive[:count][keep]
        count = alive.shape[0]
    order = alive[:count].copy()
    for k in range(count):
        if not np.isfinite(motion[order[k]]):
            return REFERENCE, empty, 0, 0
    for i in range(1, count):  # stable insertion sort, descending motion
        k = order[i]
        j = i - 1
        while j >= 0 and motion[order[j]] < motion[k]:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = k
    out = np.zeros((num_valid, 2, num_joints, 3), dtype=np.float32)
    placed = 0
    start1 = end1 = start2 = end2 = 0
    for i in range(count):
        k = order[i]
        start = np.int64(frames[offsets[k]])
        end = start + (offsets[k + 1] - offsets[k]) - 1
        if i == 0:
            slot = 0
            start1, end1 = start, end
        elif not _overlaps(start1, end1, start, end):
            slot = 0
            start1, end1 = min(start1, start), max(end1, end)
        elif not _overlaps(start2, end2, start, end):
            slot = 1
            start2, end2 = min(start2, start), max(end2, end)
        else:
            continue
        out[start : end + 1, slot] = joints[offsets[k] : offsets[k + 1]]
        placed += 1
    keep_rows = np.zeros(num_valid, dtype=np.bool_)
    kept = 0
    for t in range(num_valid):
        for m in range(2):
            for v in range(num_joints):
                for c in range(3):
                    if out[t, m, v, c] != 0:
                        keep_rows[t] = True
        kept += keep_rows[t]
    if kept == 0:
        return REFERENCE, empty, 0, 0
    return OK, out[keep_rows], 1 if count == 1 else 2, tracks - placed


def denoise_fast(skeleton: SkeletonFile, params: DenoiseParams) -> Denoised:
    """`skelssl.data.denoise.denoise(skeleton, params)`, same result, numba loops."""
    bodies = skeleton.bodies
    if len(bodies) < 2:
        return denoise(skeleton, params)
    sizes = np.fromiter((len(b.frames) for b in bodies), dtype=np.int64, count=len(bodies))
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    status, out, actors, removed = denoise_tracks(
        int(np.count_nonzero(skeleton.body_counts)), offsets,
        np.concatenate([b.frames for b in bodies]).astype(np.int32, copy=False),
        np.concatenate([b.joints for b in bodies]).astype(np.float32, copy=False),
        int(params.min_frames), float(params.spread_ratio), float(params.noise_fraction),
    )
    if status != OK:
        return denoise(skeleton, params)
    return Denoised(out, num_actors=int(actors), num_bodies=len(bodies), removed_bodies=int(removed))


def read_denoised(path: str | Path, params: DenoiseParams) -> Denoised:
    """`denoise(read_skeleton(path), params)` through the fast reader and denoiser."""
    return denoise_fast(read_skeleton_fast(path), params)
