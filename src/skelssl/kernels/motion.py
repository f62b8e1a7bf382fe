"""Per-joint motion: MAMP's target (methods.md §1.3) and the magnitude used as masking prior."""

from __future__ import annotations

import numba
import numpy as np

from skelssl.kernels.normalize import person_present


@numba.njit(cache=True)
def motion(x):
    """Frame difference ``D[t] = X[t+1] - X[t]`` per joint, last frame 0 (MAMP target §1.3).

    Choice beyond MAMP: where person m is absent (all-zero) in frame t or t+1, ``D[t, m]`` is
    0, which avoids huge spurious motion when a person appears or disappears. Computed in the
    input dtype; output has the input's shape ``(T, M, V, C)``.
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    out = np.zeros_like(x)
    present = person_present(x)
    for t in range(n_frames - 1):
        for m in range(n_persons):
            if present[t, m] and present[t + 1, m]:
                for v in range(n_joints):
                    for c in range(n_coords):
                        out[t, m, v, c] = x[t + 1, m, v, c] - x[t, m, v, c]
    return out


@numba.njit(cache=True)
def motion_magnitude(x):
    """``(T, M, V)`` Euclidean norm over C of :func:`motion` per joint and frame.

    Rotation-invariant. No method's mask reads it any more: MAMP and Skeleton2vec compute their
    motion priors from the rotated input on the device, as their references do. Norm accumulated
    in float64.
    """
    n_frames, n_persons, n_joints, n_coords = x.shape
    d = motion(x)
    out = np.zeros((n_frames, n_persons, n_joints), dtype=x.dtype)
    for t in range(n_frames):
        for m in range(n_persons):
            for v in range(n_joints):
                acc = 0.0
                for c in range(n_coords):
                    val = np.float64(d[t, m, v, c])
                    acc += val * val
                out[t, m, v] = np.sqrt(acc)
    return out
