"""CTR-GCN / SGN body denoising and actor selection (methods.md §7.2 steps 1-2 and 4-5).

Follows the reference scripts `get_raw_skes_data.py` (motion) and `get_raw_denoised_data.py`
(filters, actor slots, missing-frame removal), including these details of the reference code:

- Motion of a body = `np.sum(np.var(joints.reshape(-1, 3), axis=0))` over its float32 joints.
- A file with a single bodyID is not denoised at all and its all-zero frames are kept; only files
  with >1 bodyID go through the filters and the removal of frames where both actors are zero.
- Length filter: a body present in <= `min_frames` frames is deleted.
- Spread filter (run only while >1 body remains): bodies are visited in order of first appearance
  and the visit stops as soon as one body is left, so it never deletes the last body. A frame is
  valid when x-spread <= `spread_ratio` * y-spread (float32 spreads, compared in float64 as NumPy 1
  did); a body whose noisy fraction >= `noise_fraction` is deleted, otherwise, if it has any
  noisy frame, its motion becomes min(motion, motion of its valid frames only).
- The motion-range filter (0.089925 / 2) is disabled in the reference and not applied here.
- Bodies are sorted by motion, descending, ties in order of first appearance (stable sort).
- Frame interval of a body = [first frame, first frame + number of frames - 1]: the reference
  numbers a body's frames consecutively from its first appearance (`interval.append(prev + 1)`),
  so a body that vanishes and reappears under the same bodyID is packed into consecutive frames.
  The same packing places its joints in the output.
- Two intervals "do not overlap" when min(ends) - max(starts) <= 0, so intervals sharing exactly
  one frame count as non-overlapping (the later body overwrites that frame).
- Actor 1 = the highest-motion body; its interval grows to the hull of the bodies merged into it.
  Actor 2's interval starts as the virtual [0, 0] and is updated with min/max, so after its first
  body it always starts at frame 0: a later body fits actor 2 only if it starts at or after the
  end of actor 2's interval. Bodies fitting neither slot are discarded.
- If >= 2 bodies survive the filters, the output has two actor slots (`num_actors == 2`, the
  reference's 150-column branch) even when every other body merged into actor 1's slot, leaving
  actor 2 all zero; if exactly one survives, `num_actors == 1`.
- Frames whose values are all zero across both actors are dropped. (The reference tests
  `joints.sum(axis=1) == 0`; the two differ only when non-zero coordinates sum to exactly 0.)

Where the reference would crash (every body deleted by the length filter: IndexError), or would
produce an empty sequence, `ParseError(path, 0, ...)` is raised instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skelssl.config import DenoiseParams
from skelssl.data.ntu import NUM_JOINTS, BodyTrack, SkeletonFile
from skelssl.errors import ParseError


@dataclass
class Denoised:
    joints: np.ndarray  # (F', 2, 25, 3) float32; actor 2 all zero when num_actors == 1
    num_actors: int  # 1 or 2
    num_bodies: int  # distinct bodyIDs in the file
    removed_bodies: int  # bodies not placed in the output (filtered or fitting no actor slot)


@dataclass
class _Body:
    track: BodyTrack
    motion: np.float32

    @property
    def start(self) -> int:
        return int(self.track.frames[0])

    @property
    def end(self) -> int:
        return self.start + len(self.track.frames) - 1


def motion(joints: np.ndarray) -> np.float32:
    """Sum over x, y, z of the variance of all joint positions (reference `motion`)."""
    return np.sum(np.var(np.asarray(joints, dtype=np.float32).reshape(-1, 3), axis=0))


def _valid_by_spread(joints: np.ndarray, ratio: float) -> np.ndarray:
    """Boolean per frame: x-spread <= ratio * y-spread over the 25 joints."""
    spread = joints.max(axis=1) - joints.min(axis=1)  # (n, 3) float32
    return spread[:, 0].astype(np.float64) <= ratio * spread[:, 1].astype(np.float64)


def _spread_filter(bodies: list[_Body], params: DenoiseParams) -> list[_Body]:
    alive = list(bodies)
    for body in bodies:
        if len(alive) == 1:
            break
        joints = body.track.joints
        valid = _valid_by_spread(joints, params.spread_ratio)
        num_noise = len(valid) - int(valid.sum())
        if num_noise == 0:
            continue
        if num_noise / float(len(valid)) >= params.noise_fraction:
            alive.remove(body)
        else:
            body.motion = min(body.motion, motion(joints[valid]))
    return alive


def _overlaps(start_a: int, end_a: int, start_b: int, end_b: int) -> bool:
    return min(end_a, end_b) - max(start_a, start_b) > 0


def _place(out: np.ndarray, slot: int, body: _Body) -> None:
    out[body.start : body.end + 1, slot] = body.track.joints


def denoise(skeleton: SkeletonFile, params: DenoiseParams) -> Denoised:
    """Select up to two actors of one parsed file, as the CTR-GCN/MAMP pipeline does.

    Frame numbering is that of `BodyTrack.frames` (frames with 0 bodies already dropped).
    Raises ParseError(path, 0, ...) when the file has no body, when the length filter deletes
    every body, or when every remaining frame is all zero.
    """
    path = skeleton.path
    tracks = skeleton.bodies
    if not tracks:
        raise ParseError(path, 0, "no body in any frame (an NTU 'missing skeleton' sample)")
    num_valid = int(np.count_nonzero(skeleton.body_counts))
    out = np.zeros((num_valid, 2, NUM_JOINTS, 3), dtype=np.float32)
    if len(tracks) == 1:  # reference: no denoising, no removal of all-zero frames
        _place(out, 0, _Body(tracks[0], np.float32(0)))
        return Denoised(out, num_actors=1, num_bodies=1, removed_bodies=0)

    bodies = [_Body(t, motion(t.joints)) for t in tracks]
    bodies = [b for b in bodies if len(b.track.frames) > params.min_frames]
    if not bodies:
        raise ParseError(
            path, 0, f"no body left after denoising: all {len(tracks)} bodies are present in "
            f"<= {params.min_frames} frames"
        )
    if len(bodies) > 1:
        bodies = _spread_filter(bodies, params)
    bodies.sort(key=lambda b: b.motion, reverse=True)

    first, rest = bodies[0], bodies[1:]
    _place(out, 0, first)
    placed = 1
    start1, end1 = first.start, first.end
    start2, end2 = 0, 0  # the reference's virtual initial interval of actor 2
    for body in rest:
        if not _overlaps(start1, end1, body.start, body.end):
            _place(out, 0, body)
            start1, end1 = min(start1, body.start), max(end1, body.end)
        elif not _overlaps(start2, end2, body.start, body.end):
            _place(out, 1, body)
            start2, end2 = min(start2, body.start), max(end2, body.end)
        else:
            continue
        placed += 1

    out = out[out.any(axis=(1, 2, 3))]
    if not len(out):
        raise ParseError(path, 0, "no body left after denoising: every frame is all zero")
    return Denoised(
        out,
        num_actors=1 if len(bodies) == 1 else 2,
        num_bodies=len(tracks),
        removed_bodies=len(tracks) - placed,
    )
