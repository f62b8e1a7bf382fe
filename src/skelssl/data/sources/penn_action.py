"""Penn Action 2D joint annotations (shared/data/real/penn_action/SOURCE.md; Zhang, Zhu, Derpanis,
ICCV 2013): 2,326 clips, 15 classes, one person, 13 joints in image pixels, layout `penn13`.

Format followed: one `NNNN.mat` per clip (MATLAB v5) in `ingest.input` or its `labels/` subfolder,
with `action` (class name), `pose` (front/back/left/right), `x`, `y` (T, 13) pixels (origin top-left,
y down; 131 files store them as uint8/uint16, cast to float before any arithmetic), `visibility`
(T, 13) 1/0, `train` (1 = train, −1 = test) and `dimensions` [height, width, T]. `bbox` and
`nframes` are not used (`bbox` is one row short in two files and degenerate in one frame).

What ingest gets:
- label = index of `action` in `ACTIONS` (the 15 class names in alphabetical order, which is also
  the order of the files: 0001–0167 baseball_pitch … 2141–2326 tennis_serve); meta: action, pose
  (the coarse viewpoint), height, width (image pixels), visible_pct (percent of the clip's joint
  entries marked visible), filled (joint entries rebuilt, see below), scale_px (see below);
- split `official`: `official_train` = (train == 1), 1,258 train and 1,068 test clips;
- every frame (after the repair below every joint has a position, so no frame is all zero).

Left/right (SOURCE.md: the README's "left" joints 2, 4, …, 12 look mirrored). Measured here on all
2,326 clips, the documented "left" joints behave as the subject's anatomical **right**:
- viewpoint: in `front` clips (facing the camera, so the subject's right is on the image left) the
  documented left shoulder is left of the documented right one in 89.1% of 41,262 frames (hips
  90.4%); in the 9 upright classes 93.5% of 26,702 frames, and 100% in clean_and_jerk, jump_rope,
  jumping_jacks and pullup. In `back` clips it is reversed: 74.5% of 37,692 frames the other way,
  95.6% for bowl (filmed from behind) and 100% for pullup and squat;
- handedness (independent of `pose`): the documented left wrist travels farther relative to the
  shoulder midpoint in 89 of 94 strum_guitar, 176 of 220 bowl, 121 of 167 baseball_pitch and 111
  of 157 tennis_forehand clips (one-handed actions most people do with the right hand), and in
  about half of the two-handed swings (baseball_swing 80 of 173, golf_swing 93 of 166).
So joints are mapped into `penn13` with every documented pair swapped (`PENN_NAMES`, by name through
`skelssl.skeleton.joint_order`): layout `*_left` joints are the subject's anatomical left, as in the
other layouts, and left/right flips and part masks act on the right limbs. *Unverified* against the
images (not available); it assumes `front` means facing the camera.

Visibility (78.0% of entries visible), kept where it carries information, measured on all clips:
- 187,352 of the 469,501 invisible entries (39.9%) sit at the image's top-left corner (x ≤ 2 and
  y ≤ 2 pixels; 82% of them round to (1, 1)): a "not annotated" placeholder, not a position. No
  visible entry is there. Nearly all (186,699) belong to a joint that is a placeholder in every
  frame of its clip (2,614 of 30,238 clip-joints: legs out of view in strum_guitar and bench_press,
  the far side in side views): such a joint takes the position of its nearest rebuilt bone
  neighbour, frame by frame (a zero-length bone, no spurious motion). The other 653 (27
  clip-joints) are interpolated linearly in time from the joint's other entries (held constant
  before the first and after the last). `filled` counts the rebuilt entries;
- the other invisible entries are the annotators' estimates of occluded joints: 80.8% lie inside
  the person box, but they are rougher than visible ones (a bone's length deviates from the clip's
  median by 25% (median) vs 6.7% with a visible child joint). They are kept as positions.
Invisible joints are not zeroed: in this pipeline a zero joint of a present person is not "absent"
(preprocessing's centring turns it into minus the origin, and the motion stream and the motion
prior of the masks then see jumps of the person's whole offset); all-zero persons are the only
absent marker. The per-entry flag is not passed on (layout channels are x, y); `visible_pct`
keeps the clip's share.

Coordinates (a 2D layout: `preprocess.align_view` must be false): x' = (x − W/2) / s and
y' = (H/2 − y) / s, i.e. origin at the image centre, **y up** like the 3D sources, in units of the
person's size: s (`scale_px`) = the clip's median over frames of max(x range, y range) of its
annotated joints (placeholders excluded, frames with at least 2 annotated joints). Measured on the
1,642 clips whose shoulders and hips are visible in at least 3 frames, the torso length (shoulder
midpoint to hip midpoint) divided by s varies across clips with a coefficient of variation of
0.18 (median 0.35), against 0.33 when dividing by the image height and 0.36 by the box height (a
lying person's box is short); the box diagonal does as well (0.18) but the boxes have the quirks
above. One s per clip, so motion towards the camera still changes the size, as in metres. It also
absorbs the apparent scale error of the four jump_rope clips 0979, 1021, 1024 and 1032 (joints up to
175 px outside a 393 × 480 frame).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, ReadResult, Source, drop_zero_frames
from skelssl.data.sources.matfile import load_mat, mat_array, mat_number, mat_string
from skelssl.errors import ParseError, SkelsslError
from skelssl.skeleton import PENN13, joint_order

NAME = re.compile(r"^(\d{4})\.mat$")
ACTIONS: tuple[str, ...] = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing",
    "jump_rope", "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar",
    "tennis_forehand", "tennis_serve",
)  # fmt: skip
POSES = ("front", "back", "left", "right")
NUM_JOINTS = 13
# The file's joint order (the README's 1 head, 2 left_shoulder, 3 right_shoulder, …) with the sides
# resolved by the evidence in the module docstring: the README's "left" is the subject's right.
PENN_NAMES: tuple[str, ...] = (
    "head",
    "shoulder_right", "shoulder_left", "elbow_right", "elbow_left", "wrist_right", "wrist_left",
    "hip_right", "hip_left", "knee_right", "knee_left", "ankle_right", "ankle_left",
)  # fmt: skip
PENN_TO_PENN13: tuple[int, ...] = joint_order(PENN_NAMES, PENN13)  # penn13 joint i ← file joint [i]
PLACEHOLDER_PX = 2.0  # an invisible entry with x and y both <= this is the "not annotated" corner
KEYS = ("action", "pose", "x", "y", "visibility", "train", "dimensions")


def placeholders(x: np.ndarray, y: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(T, V) bool: invisible entries at the image's top-left corner, which carry no position."""
    return (visibility == 0) & (x <= PLACEHOLDER_PX) & (y <= PLACEHOLDER_PX)


def repair(xy: np.ndarray, missing: np.ndarray, bones: tuple[tuple[int, int], ...]) -> np.ndarray:
    """xy (T, V, 2) with the `missing` (T, V) entries rebuilt: interpolated in time from the joint's
    other entries, or, for a joint missing in every frame, copied from its nearest rebuilt bone
    neighbour. ValueError when every entry is missing."""
    out = xy.copy()
    frames = np.arange(len(xy))
    done = np.zeros(xy.shape[1], dtype=bool)
    for v in range(xy.shape[1]):
        ok = ~missing[:, v]
        if ok.any():
            done[v] = True
            if not ok.all():
                for c in range(xy.shape[2]):
                    out[:, v, c] = np.interp(frames, frames[ok], xy[ok, v, c])
    if not done.any():
        raise ValueError("no joint is annotated in any frame")
    while not done.all():  # breadth-first from the rebuilt joints along the bones (parent first)
        ready = done.copy()
        for a, b in bones:
            for dst, src in ((a, b), (b, a)):
                if not done[dst] and ready[src]:
                    out[:, dst] = out[:, src]
                    done[dst] = True
    return out


def person_scale(xy: np.ndarray, missing: np.ndarray) -> float:
    """Median over frames (with >= 2 annotated joints) of max(x range, y range) of the annotated
    joints, in pixels; 0 when no frame qualifies."""
    ok = ~missing
    frames = ok.sum(axis=1) >= 2
    if not frames.any():
        return 0.0
    lo = np.where(ok[..., None], xy, np.inf).min(axis=1)[frames]
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=1)[frames]
    return float(np.median((hi - lo).max(axis=1)))


class PennActionSource(Source):
    name = "penn_action"
    layout = "penn13"
    persons = 1

    def items(self, root: Path, cfg: IngestParams) -> list[Path]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put Penn Action's NNNN.mat label files there "
                "(or in its labels/ subfolder) or point ingest.input at that folder"
            )
        folder = root / "labels" if (root / "labels").is_dir() else root
        files = sorted(p for p in folder.glob("*.mat") if NAME.match(p.name))
        if not files:
            raise SkelsslError(f"ingest.input: no NNNN.mat files in {folder}")
        return files

    def read(self, item: Path, cfg: IngestParams) -> ReadResult:
        if NAME.match(item.name) is None:
            raise ParseError(item, 0, "file name is not NNNN.mat")
        mat = load_mat(item, KEYS)
        action = mat_string(item, mat["action"], "action")
        if action not in ACTIONS:
            raise ParseError(item, 0, f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
        pose = mat_string(item, mat["pose"], "pose")
        if pose not in POSES:
            raise ParseError(item, 0, f"unknown pose {pose!r} (known: {', '.join(POSES)})")
        x = mat_array(item, mat["x"], "x", (None, NUM_JOINTS))
        t = len(x)
        y = mat_array(item, mat["y"], "y", (t, NUM_JOINTS))
        visibility = mat_array(item, mat["visibility"], "visibility", (t, NUM_JOINTS))
        if t == 0:
            raise ParseError(item, 0, "no frame")
        if not np.isin(visibility, (0, 1)).all():
            raise ParseError(item, 0, "visibility: values other than 0 and 1")
        train = mat_number(item, mat["train"], "train")
        if train not in (1, -1):
            raise ParseError(item, 0, f"train: expected 1 (train) or -1 (test), got {train:g}")
        dims = mat_array(item, mat["dimensions"], "dimensions", (1, 3))[0]
        height, width = float(dims[0]), float(dims[1])
        if not (height >= 1 and width >= 1 and dims[2] == t):
            raise ParseError(item, 0, f"dimensions {dims.tolist()}: expected [height, width, {t}]")

        order = list(PENN_TO_PENN13)
        xy = np.stack([x, y], axis=-1)[:, order]  # (T, 13, 2) in layout penn13
        missing = placeholders(x, y, visibility)[:, order]
        try:
            xy = repair(xy, missing, PENN13.bones)
        except ValueError as exc:
            raise ParseError(item, 0, str(exc)) from None
        scale = person_scale(xy, missing)
        if not scale >= 1.0:
            raise ParseError(item, 0, f"the annotated joints span {scale:g} px: no person size to normalise by")
        joints = np.empty_like(xy)
        joints[..., 0] = (xy[..., 0] - width / 2) / scale
        joints[..., 1] = (height / 2 - xy[..., 1]) / scale
        meta = {"action": action, "pose": pose, "height": int(height), "width": int(width),
                "visible_pct": int(round(100 * float(visibility.mean()))), "filled": int(missing.sum()),
                "scale_px": int(round(scale))}
        joints, _ = drop_zero_frames(np.ascontiguousarray(joints[:, None], dtype=np.float32), item, 0)
        return [Clip(item.stem, ACTIONS.index(action), joints, meta, {"official_train": train == 1})]
