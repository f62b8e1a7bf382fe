"""MSR Action3D, real-world coordinates (`MSRAction3DSkeletonReal3D`, shared/data/real/msr_action3d/SOURCE.md).

Format followed: one `aAA_sSS_eEE_skeleton3D.txt` per sequence (action, subject, repetition, 1-based);
plain text, one `x y z c` line per joint, 20 lines per frame; x, y, z in metres (y up, z = depth
from the sensor), c a per-joint confidence. 567 sequences, 20 actions, 10 subjects, one person.
`files_used_in_cvpr12_paper.txt` (557 names), when present next to the sequence files or one folder
up, marks the commonly used subset in a `cvpr12` column (1 = listed; no column without the file).

What ingest gets:
- joints reordered from MSR's order into the Kinect v1 SDK order of layout `kinect20` (the order
  UTKinect uses), so both datasets share one layout; MSR joint k (1-based) → see `MSR_TO_KINECT20`;
- the confidence column is dropped (C = 3);
- all-zero frames (no skeleton: 1,075 frames in 19 files) are removed wherever they are, since
  preprocessing takes the valid frames to be contiguous; a sequence with no non-zero frame is a
  ParseError (file, line 1), like any other malformed file. The real dataset has one such file
  (a13_s09_e02, all zeros), so ingesting all of MSR Action3D needs `ingest.on_error: skip`: the
  file is then left out, logged and listed in skipped.parquet (566 clips). An error rather than a
  silent skip, so that every clip left out is recorded and `on_error: fail` means what it says;
- every `aAA_sSS_eEE_skeleton3D.txt` entry must be a readable file: a folder or a dangling
  symlink of that name is a ParseError of that path (skippable), not ignored;
- label = action − 1; meta: action, subject, repetition, frames_removed (all-zero frames), cvpr12;
- split `xsub`: odd subjects (1, 3, 5, 7, 9) train, even ones test (SOURCE.md's usual protocol).

*Unverified*: the left/right naming of MSR's paired joints (A = left, the commonly cited naming;
it puts the left shoulder at smaller x than the right one, as UTKinect's Kinect-SDK data does);
the action subsets AS1/AS2/AS3 are not provided (their class lists are not in SOURCE.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, ReadResult, Source, drop_zero_frames, read_text
from skelssl.errors import ParseError, SkelsslError

FOLDER = "MSRAction3DSkeletonReal3D"
SUBSET_FILE = "files_used_in_cvpr12_paper.txt"
NAME = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_skeleton3D\.txt$")
NUM_JOINTS = 20
NUM_ACTIONS = 20
NUM_SUBJECTS = 10

# kinect20 joint i ← MSR joint MSR_TO_KINECT20[i] (0-based). MSR's order (SOURCE.md): 1 shoulder A,
# 2 shoulder B, 3 neck, 4 spine, 5 hip A, 6 hip B, 7 hip centre, 8 elbow A, 9 elbow B, 10 wrist A,
# 11 wrist B, 12 hand A, 13 hand B, 14 knee A, 15 knee B, 16 ankle A, 17 ankle B, 18 foot A,
# 19 foot B, 20 head; A = left.
MSR_TO_KINECT20: tuple[int, ...] = (6, 3, 2, 19, 0, 7, 9, 11, 1, 8, 10, 12, 4, 13, 15, 17, 5, 14, 16, 18)


@dataclass(frozen=True)
class MSRItem:
    path: Path
    cvpr12: bool | None  # None: no subset list found


def parse_name(path: Path) -> tuple[int, int, int]:
    """(action, subject, repetition), 1-based, from `aAA_sSS_eEE_skeleton3D.txt`."""
    match = NAME.match(path.name)
    if match is None:
        raise ParseError(path, 0, "file name is not aAA_sSS_eEE_skeleton3D.txt")
    action, subject, repetition = (int(g) for g in match.groups())
    if not (1 <= action <= NUM_ACTIONS and 1 <= subject <= NUM_SUBJECTS and repetition >= 1):
        raise ParseError(path, 0, f"action {action}, subject {subject} or repetition {repetition} out of range")
    return action, subject, repetition


def read_msr(path: Path) -> np.ndarray:
    """The raw file as (T, 20, 4) float32 in MSR's joint order; ParseError names the bad line."""
    text = read_text(path)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if len(fields) != 4:
            raise ParseError(path, number, f"expected 4 numbers (x y z c), got {len(fields)}")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise ParseError(path, number, f"not a number in {line.strip()!r}") from None
    if not rows:
        raise ParseError(path, 1, "empty file")
    if len(rows) % NUM_JOINTS:
        raise ParseError(path, len(rows), f"{len(rows)} joint lines is not a multiple of {NUM_JOINTS}")
    values = np.asarray(rows, dtype=np.float32)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0]) + 1
        raise ParseError(path, bad, "non-finite value")
    return values.reshape(-1, NUM_JOINTS, 4)


def _subset(root: Path) -> frozenset[str] | None:
    for folder in (root, root.parent):
        path = folder / SUBSET_FILE
        if path.is_file():
            try:
                return frozenset(read_text(path).split())
            except OSError as exc:
                raise SkelsslError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if path.is_symlink() or path.exists():
            raise SkelsslError(f"{path}: not a readable file (a folder or a dangling symlink)")
    return None


class MSRAction3DSource(Source):
    name = "msr_action3d"
    layout = "kinect20"
    persons = 1

    def items(self, root: Path, cfg: IngestParams) -> list[MSRItem]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put MSR Action3D's {FOLDER} files "
                "(aAA_sSS_eEE_skeleton3D.txt) there or point ingest.input at that folder"
            )
        folder = root / FOLDER if (root / FOLDER).is_dir() else root
        files = sorted(folder.glob("a*_s*_e*_skeleton3D.txt"))
        if not files:
            raise SkelsslError(f"ingest.input: no aAA_sSS_eEE_skeleton3D.txt files in {folder}")
        subset = _subset(folder)
        return [MSRItem(f, None if subset is None else f.name.removesuffix("_skeleton3D.txt") in subset)
                for f in files]

    def read(self, item: MSRItem, cfg: IngestParams) -> ReadResult:
        action, subject, repetition = parse_name(item.path)
        raw = read_msr(item.path)
        xyz = np.ascontiguousarray(raw[:, MSR_TO_KINECT20, :3][:, None])  # (T, 1, 20, 3)
        name = item.path.name.removesuffix("_skeleton3D.txt")
        joints, removed = drop_zero_frames(xyz, item.path, 1, "sequence")
        meta = {"action": action, "subject": subject, "repetition": repetition,
                "frames_removed": removed}
        if item.cvpr12 is not None:
            meta["cvpr12"] = int(item.cvpr12)
        return [Clip(name, action - 1, joints, meta, {"xsub_train": subject % 2 == 1})]
