"""Whole-dataset preprocessing driver: centre -> align -> scale -> crop/resize -> motion magnitude."""

from __future__ import annotations

import numba
import numpy as np

from skelssl.kernels.motion import motion_magnitude
from skelssl.kernels.normalize import align_view, center, rms_scale
from skelssl.kernels.resample import crop_resize


@numba.njit(cache=True, parallel=True)
def preprocess_batch_kernel(joints, offsets, frames, crop_ratio, center_joint, align, left, right, scale):
    """Jitted driver; call :func:`preprocess_batch`, which validates the inputs first.

    Sample i is ``joints[offsets[i]:offsets[i + 1]]`` ``(F_i, M, V, C)``. Per sample (prange):
    :func:`center` if ``center_joint >= 0``, :func:`align_view` if ``align``, :func:`rms_scale`
    if ``scale``, then
    :func:`crop_resize` to ``frames`` and :func:`motion_magnitude` of the resized clip.
    Returns ``X`` float32 ``(N, M, frames, V, C)`` and ``Mot`` float32 ``(N, M, frames, V)``
    (person axis moved before time).
    """
    n = offsets.shape[0] - 1
    n_persons = joints.shape[1]
    n_joints = joints.shape[2]
    n_coords = joints.shape[3]
    xs = np.zeros((n, n_persons, frames, n_joints, n_coords), dtype=np.float32)
    mot = np.zeros((n, n_persons, frames, n_joints), dtype=np.float32)
    for i in numba.prange(n):
        sample = joints[offsets[i] : offsets[i + 1]].copy()
        if center_joint >= 0:
            sample = center(sample, center_joint)
        if align:
            sample = align_view(sample, left, right)
        if scale:
            sample = rms_scale(sample)
        clip = crop_resize(sample, frames, crop_ratio)
        mag = motion_magnitude(clip)
        for m in range(n_persons):
            for t in range(frames):
                for v in range(n_joints):
                    mot[i, m, t, v] = mag[t, m, v]
                    for c in range(n_coords):
                        xs[i, m, t, v, c] = clip[t, m, v, c]
    return xs, mot


def _as_int(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def preprocess_batch(
    joints: np.ndarray,
    offsets: np.ndarray,
    frames: int,
    crop_ratio: float = 0.95,
    center_joint: int = 1,
    align: bool = False,
    left: int = 12,
    right: int = 16,
    scale: str = "none",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate inputs, then run :func:`preprocess_batch_kernel` (see there for the rules).

    ``joints``: C-contiguous float32 ``(sum F_i, M, V, C)``; ``offsets``: contiguous int64
    ``(N + 1,)`` with ``offsets[0] == 0``, non-decreasing, ``offsets[-1] == len(joints)``.
    ``center_joint < 0`` disables centring. Defaults: NTU-25 spine-middle centre and hips
    (12 left, 16 right, 0-based) for the optional alignment. ``scale``: "none" | "rms"
    (:func:`rms_scale`, after centring and alignment). Raises ValueError on bad input.
    """
    if not isinstance(joints, np.ndarray) or joints.dtype != np.float32:
        got = getattr(joints, "dtype", type(joints).__name__)
        raise ValueError(f"joints must be a float32 numpy array, got {got}")
    if joints.ndim != 4:
        raise ValueError(f"joints must have shape (frames, M, V, C), got {joints.shape}")
    if not joints.flags.c_contiguous:
        raise ValueError("joints must be C-contiguous (use np.ascontiguousarray)")
    if not isinstance(offsets, np.ndarray) or offsets.dtype != np.int64 or offsets.ndim != 1:
        raise ValueError("offsets must be a 1-D int64 numpy array of length N + 1")
    if not offsets.flags.c_contiguous:
        raise ValueError("offsets must be contiguous")
    if offsets.shape[0] < 1 or offsets[0] != 0 or offsets[-1] != joints.shape[0]:
        raise ValueError(f"offsets must start at 0 and end at len(joints)={joints.shape[0]}")
    if np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must be non-decreasing")
    n_joints, n_coords = joints.shape[2], joints.shape[3]
    frames = _as_int("frames", frames)
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    crop_ratio = float(crop_ratio)
    if not 0.0 < crop_ratio <= 1.0:
        raise ValueError(f"crop_ratio must be in (0, 1], got {crop_ratio}")
    center_joint = _as_int("center_joint", center_joint)
    if center_joint >= n_joints:
        raise ValueError(f"center_joint {center_joint} out of range for V={n_joints}")
    left, right = _as_int("left", left), _as_int("right", right)
    if align:
        if n_coords < 3:
            raise ValueError("align needs x, y, z coordinates (C >= 3)")
        if not (0 <= left < n_joints and 0 <= right < n_joints):
            raise ValueError(f"left/right joints ({left}, {right}) out of range for V={n_joints}")
    if scale not in ("none", "rms"):
        raise ValueError(f"scale must be 'none' or 'rms', got {scale!r}")
    return preprocess_batch_kernel(
        joints, offsets, frames, crop_ratio, center_joint, bool(align), left, right, scale == "rms"
    )
