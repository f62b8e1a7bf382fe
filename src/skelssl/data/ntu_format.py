"""Writing the NTU RGB+D `.skeleton` text format (methods.md §8.1).

The synthesizer and the tests write through this module, so the default pipeline exercises the
same parser as real data. Depth/colour pixel positions come from a pinhole projection with
Kinect v2-like intrinsics; orientations are written as the identity quaternion (no reader in this
field uses them).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_JOINTS = 25

# Kinect v2-like pinhole intrinsics: (fx, fy, cx, cy) of the depth and colour cameras.
_DEPTH = (365.0, 365.0, 256.0, 212.0)
_COLOR = (1081.0, 1081.0, 960.0, 540.0)


@dataclass(frozen=True)
class BodyFrame:
    """One tracked body in one frame: camera-space joints in metres."""

    body_id: int
    xyz: np.ndarray  # (25, 3)
    tracking: np.ndarray  # (25,) int: 0 not tracked, 1 inferred, 2 tracked


def _project(xyz: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    z = np.maximum(xyz[:, 2], 1e-3)
    return np.stack([cx + fx * xyz[:, 0] / z, cy - fy * xyz[:, 1] / z], axis=1)


def format_body(body: BodyFrame) -> str:
    """The body-info line, the joint-count line and 25 joint lines, LF-terminated."""
    xyz = np.asarray(body.xyz, dtype=np.float64)
    if xyz.shape != (NUM_JOINTS, 3):
        raise ValueError(f"body xyz must be (25, 3), got {xyz.shape}")
    depth = _project(xyz, *_DEPTH)
    color = _project(xyz, *_COLOR)
    out = io.StringIO()
    out.write(f"{body.body_id} 0 1 1 1 1 0 0.0 0.0 2\n{NUM_JOINTS}\n")
    for j in range(NUM_JOINTS):
        x, y, z = xyz[j]
        out.write(
            f"{x:.5f} {y:.5f} {z:.5f} {depth[j, 0]:.3f} {depth[j, 1]:.3f} "
            f"{color[j, 0]:.2f} {color[j, 1]:.2f} 1 0 0 0 {int(body.tracking[j])}\n"
        )
    return out.getvalue()


def format_skeleton(frames: Sequence[Sequence[BodyFrame]], newline: str = "\n") -> str:
    """The whole file: frame count, then per frame its body count and bodies."""
    parts = [f"{len(frames)}\n"]
    for bodies in frames:
        parts.append(f"{len(bodies)}\n")
        parts.extend(format_body(b) for b in bodies)
    text = "".join(parts)
    return text.replace("\n", newline) if newline != "\n" else text


def write_skeleton(path: Path, frames: Sequence[Sequence[BodyFrame]], newline: str = "\n") -> None:
    path.write_bytes(format_skeleton(frames, newline).encode("ascii"))


def sample_name(setup: int, camera: int, performer: int, replication: int, action: int) -> str:
    """NTU sample name `SsssCcccPpppRrrrAaaa` (without extension)."""
    return f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{action:03d}"
