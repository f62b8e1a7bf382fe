"""UTD-MHAD skeleton joints (shared/data/real/utd_mhad/SOURCE.md; Chen, Jafari, Kehtarnavaz, ICIP 2015).

Format followed: one `aA_sS_tT_skeleton.mat` per sequence (action 1–27, subject 1–8, trial 1–4, no
zero padding), in `ingest.input` or its `skeleton/` subfolder; a MATLAB v5 file whose one variable
`d_skel` is float (20, 3, T) = joint × (x, y, z) × frame, one person, Kinect v1 at about 30 fps.
861 sequences: of the 27 × 8 × 4 combinations a8_s1_t4, a23_s6_t4 and a27_s8_t4 are missing from the
release (the authors removed three corrupted sequences), so no clip has those names; nothing else
needs them.

Coordinates (measured on every 4th file, 14,695 frames; SOURCE.md measured the same on all of them):
Kinect camera space in metres, kept as is — mean shoulder width 0.32 m, hip–knee 0.45 m, knee–ankle
0.35 m, head–shoulder centre 0.19 m; y up (mean head y +0.45, mean foot y −1.05); z = depth from the
sensor (1.84–3.86 m); the subject's left joints at smaller x than the right ones (mean x of the left
shoulder −0.25, of the right +0.07), as UTKinect and MSR Action3D in layout `kinect20`.

What ingest gets:
- joints reordered from UTD's head-first order (`Skeleton_joint_order.txt`: head, shoulder centre,
  spine, hip centre, then the limbs in the Kinect SDK order) into layout `kinect20` by joint name
  (`skelssl.skeleton.joint_order`, `UTD_NAMES`): only the first four joints move;
- all-zero frames are removed wherever they are (the release has none), a file with no non-zero
  frame is a ParseError (`skelssl.data.sources.base.drop_zero_frames`);
- label = action − 1 (the 27 classes of SOURCE.md, a1 right arm swipe to the left … a27 squat);
  meta: action, subject, trial;
- split `xsub` (Chen et al. 2015's cross-subject protocol): odd subjects (1, 3, 5, 7) train,
  431 sequences; even ones test, 430.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, ReadResult, Source, drop_zero_frames
from skelssl.data.sources.matfile import load_mat, mat_array
from skelssl.errors import ParseError, SkelsslError
from skelssl.skeleton import KINECT20, joint_order

NAME = re.compile(r"^a(\d+)_s(\d+)_t(\d+)_skeleton\.mat$")
NUM_ACTIONS = 27
NUM_SUBJECTS = 8
# UTD's joint order (Skeleton_joint_order.txt, 1-based there) in kinect20's joint names
UTD_NAMES: tuple[str, ...] = ("head", "shoulder_center", "spine", "hip_center") + KINECT20.joint_names[4:]
UTD_TO_KINECT20: tuple[int, ...] = joint_order(UTD_NAMES, KINECT20)  # kinect20 joint i ← UTD joint [i]


def parse_name(path: Path) -> tuple[int, int, int]:
    """(action, subject, trial), 1-based, from `aA_sS_tT_skeleton.mat`."""
    match = NAME.match(path.name)
    if match is None:
        raise ParseError(path, 0, "file name is not aA_sS_tT_skeleton.mat")
    action, subject, trial = (int(g) for g in match.groups())
    if not (1 <= action <= NUM_ACTIONS and 1 <= subject <= NUM_SUBJECTS and trial >= 1):
        raise ParseError(path, 0, f"action {action}, subject {subject} or trial {trial} out of range")
    return action, subject, trial


def read_utd(path: Path) -> np.ndarray:
    """`d_skel` as (T, 20, 3) float32 in UTD's joint order; ParseError when malformed."""
    skel = mat_array(path, load_mat(path, ("d_skel",))["d_skel"], "d_skel", (len(UTD_NAMES), 3, None))
    if skel.shape[2] == 0:
        raise ParseError(path, 0, "d_skel has no frame")
    return np.ascontiguousarray(skel.transpose(2, 0, 1), dtype=np.float32)


def _sort_key(path: Path) -> tuple[int, ...]:
    match = NAME.match(path.name)
    return tuple(int(g) for g in match.groups()) if match else (1 << 30,)  # numeric, not lexical


class UTDMHADSource(Source):
    name = "utd_mhad"
    layout = "kinect20"
    persons = 1

    def items(self, root: Path, cfg: IngestParams) -> list[Path]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put UTD-MHAD's aA_sS_tT_skeleton.mat files there "
                "(or in its skeleton/ subfolder) or point ingest.input at that folder"
            )
        folder = root / "skeleton" if (root / "skeleton").is_dir() else root
        files = sorted(folder.glob("a*_s*_t*_skeleton.mat"), key=lambda p: (_sort_key(p), p.name))
        if not files:
            raise SkelsslError(f"ingest.input: no aA_sS_tT_skeleton.mat files in {folder}")
        return files

    def read(self, item: Path, cfg: IngestParams) -> ReadResult:
        action, subject, trial = parse_name(item)
        xyz, _ = drop_zero_frames(read_utd(item)[:, UTD_TO_KINECT20], item, 0)
        name = item.name.removesuffix("_skeleton.mat")
        return [Clip(name, action - 1, np.ascontiguousarray(xyz[:, None]),
                     {"action": action, "subject": subject, "trial": trial},
                     {"xsub_train": subject % 2 == 1})]
