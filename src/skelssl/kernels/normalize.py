"""Spatial normalisation kernels: person presence, CTR-GCN translation, optional view alignment,
optional per-clip scale normalisation.

Layout of one sample: ``(F, M, V, C)`` = frames, persons, joints, coords. A person-frame whose
``V*C`` values are all exactly zero is *absent* and stays exactly zero through every kernel.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def person_present(x):
    """``(F, M)`` bool: True where person-frame ``x[t, m]`` has at least one non-zero value."""
    n_frames, n_persons, n_joints, n_coords = x.shape
    out = np.zeros((n_frames, n_persons), dtype=np.bool_)
    for t in range(n_frames):
        for m in range(n_persons):
            found = False
            for v in range(n_joints):
                for c in range(n_coords):
                    if x[t, m, v, c] != 0:
                        found = True
                        break
                if found:
                    break
            out[t, m] = found
    return out


@numba.njit(cache=True)
def first_present_frame(present, person):
    """Index of the first frame where ``person`` is present in a ``(F, M)`` mask, or -1."""
    for t in range(present.shape[0]):
        if present[t, person]:
            return t
    return -1


@numba.njit(cache=True)
def center(x, joint):
    """CTR-GCN/MAMP translation (``seq_transformation.py``, methods.md §7.2 step 3).

    Origin = joint ``joint`` of person 0 in the first frame where person 0 is non-zero; it is
    subtracted from every joint of every person in all frames, while person-frames that were
    all zero stay zero. If person 0 is never present, an unchanged copy is returned.
    The subtraction is done in the input dtype, so the origin joint becomes exactly 0.
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    if joint < 0 or joint >= n_joints:
        raise ValueError("center: joint index out of range")
    out = x.copy()
    present = person_present(x)
    t0 = first_present_frame(present, 0)
    if t0 < 0:
        return out
    origin = x[t0, 0, joint].copy()
    for t in range(n_frames):
        for m in range(n_persons):
            if present[t, m]:
                for v in range(n_joints):
                    for c in range(n_coords):
                        out[t, m, v, c] = x[t, m, v, c] - origin[c]
    return out


@numba.njit(cache=True)
def align_view(x, left, right):
    """Optional view alignment: one rotation about the vertical (y) axis, about the origin.

    The angle comes from person 0's first non-zero frame and makes the horizontal (x, z)
    projection of ``joint[right] - joint[left]`` point along +x (SGN/PYSKL-style "shoulder/hip
    to x" alignment restricted to the ground plane; y is untouched). The same rotation
    ``x' = c*x + s*z, z' = -s*x + c*z`` (c, s = cos/sin of the projected vector's angle) is
    applied to every frame and person; absent person-frames stay zero. Call it after
    :func:`center`. Returns a copy if person 0 is never present or the projected vector has
    norm < 1e-6. Needs C >= 3 (coordinates x, y, z).
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    if left < 0 or left >= n_joints or right < 0 or right >= n_joints:
        raise ValueError("align_view: joint index out of range")
    if n_coords < 3:
        raise ValueError("align_view: needs x, y, z coordinates (C >= 3)")
    out = x.copy()
    present = person_present(x)
    t0 = first_present_frame(present, 0)
    if t0 < 0:
        return out
    dx = np.float64(x[t0, 0, right, 0]) - np.float64(x[t0, 0, left, 0])
    dz = np.float64(x[t0, 0, right, 2]) - np.float64(x[t0, 0, left, 2])
    norm = np.sqrt(dx * dx + dz * dz)
    if norm < 1e-6:
        return out
    cos = dx / norm
    sin = dz / norm
    for t in range(n_frames):
        for m in range(n_persons):
            if present[t, m]:
                for v in range(n_joints):
                    px = np.float64(x[t, m, v, 0])
                    pz = np.float64(x[t, m, v, 2])
                    out[t, m, v, 0] = cos * px + sin * pz
                    out[t, m, v, 2] = -sin * px + cos * pz
    return out


@numba.njit(cache=True)
def rms_scale(x):
    """Optional per-clip scale normalisation (skelssl's, not a paper's: `preprocess.scale: rms`).

    Divides every present person-frame of the clip by the root-mean-square distance of the
    clip's present joints from their mean over all present person-frames, so that body size and
    distance to the camera no longer set the coordinates' magnitude (real multi-view Kinect data;
    the value is about 0.4 m for a standing adult in NTU). Call it after :func:`center` and
    :func:`align_view`. Absent person-frames stay zero; a clip with no present joint, or whose
    spread is below 1e-6, is returned unchanged (a copy).
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    out = x.copy()
    present = person_present(x)
    count = 0
    mean = np.zeros(n_coords, dtype=np.float64)
    for t in range(n_frames):
        for m in range(n_persons):
            if present[t, m]:
                for v in range(n_joints):
                    count += 1
                    for c in range(n_coords):
                        mean[c] += np.float64(x[t, m, v, c])
    if count == 0:
        return out
    mean /= count
    total = 0.0
    for t in range(n_frames):
        for m in range(n_persons):
            if present[t, m]:
                for v in range(n_joints):
                    for c in range(n_coords):
                        d = np.float64(x[t, m, v, c]) - mean[c]
                        total += d * d
    rms = np.sqrt(total / count)
    if rms < 1e-6:
        return out
    for t in range(n_frames):
        for m in range(n_persons):
            if present[t, m]:
                for v in range(n_joints):
                    for c in range(n_coords):
                        out[t, m, v, c] = np.float64(x[t, m, v, c]) / rms
    return out
