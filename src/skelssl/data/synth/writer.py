"""Fast writer for whole `.skeleton` files, byte-identical to `ntu_format.format_skeleton`.

`format_body` formats every joint with its own f-string (~140 us per body-frame). Here the
pixel projections are computed for all body-frames at once and the whole file is rendered by a
single ``%`` operation on one format string, which uses the same float-to-text conversion as
the f-strings (correct rounding), so the output is the same bytes, ~6x faster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from skelssl.data.ntu_format import _COLOR, _DEPTH, NUM_JOINTS, _project
from skelssl.data.synth.kinematics import Array
from skelssl.data.synth.scene import Track

_JOINTS = "%.5f %.5f %.5f %.3f %.3f %.2f %.2f 1 0 0 0 %d\n" * NUM_JOINTS


def _rows(xyz: Array, tracking: npt.NDArray[np.int64]) -> Array:
    """(N, 25, 8): x, y, z, depthX, depthY, colorX, colorY, tracking state of N body-frames."""
    flat = xyz.reshape(-1, 3).astype(np.float64)
    depth = _project(flat, *_DEPTH)
    color = _project(flat, *_COLOR)
    rows = np.concatenate([flat, depth, color, tracking.reshape(-1, 1).astype(np.float64)], axis=1)
    return rows.reshape(xyz.shape[0], NUM_JOINTS, 8)


def format_tracks(tracks: list[Track], frames: int) -> str:
    """The text of a file with ``frames`` frames; in each frame the present tracks, in order."""
    present = np.array([t.present for t in tracks]).reshape(len(tracks), frames)
    parts = [f"{frames}\n"]
    which_track: list[int] = []
    which_frame: list[int] = []
    headers = [f"{t.body_id} 0 1 1 1 1 0 0.0 0.0 2\n{NUM_JOINTS}\n" + _JOINTS for t in tracks]
    for f in range(frames):
        here = np.flatnonzero(present[:, f]).tolist()
        parts.append(f"{len(here)}\n")
        for k in here:
            parts.append(headers[k])
            which_track.append(k)
            which_frame.append(f)
    if not which_track:
        return "".join(parts)
    xyz = np.stack([t.xyz for t in tracks])[which_track, which_frame]
    tracking = np.stack([t.tracking for t in tracks])[which_track, which_frame]
    return "".join(parts) % tuple(_rows(xyz, tracking).ravel().tolist())


def write_tracks(path: Path, tracks: list[Track], frames: int) -> None:
    path.write_bytes(format_tracks(tracks, frames).encode("ascii"))
