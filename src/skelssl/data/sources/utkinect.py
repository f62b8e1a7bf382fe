"""UTKinect-Action3D skeleton joints + action segments (shared/data/real/utkinect_action3d/SOURCE.md).

Format followed:
- `joints_sSS_eEE.txt`: one line per skeleton frame, `frameIndex x1 y1 z1 … x20 y20 z20` (61
  whitespace-separated numbers), Kinect camera space in metres, Kinect v1 SDK joint order (layout
  `kinect20`, used as is). frameIndex is the RGB/depth frame number: not contiguous (mostly steps of
  2, larger gaps where tracking failed) and with repeated values (6–145 per file);
- the label file (`ingest.labels`; `default` = the authors' `actionLabel.txt`, or the corrected
  `actionLabel_modified.txt`): blocks of a `sSS_eEE` line followed by `<action>: <start> <end>`
  lines, frames inclusive and in frameIndex units; `NaN NaN` marks a missing segment
  (s10_e02 carry), which gives no clip: 200 segments, 199 clips.
Each recording holds all 10 actions of one subject; every labelled segment becomes one clip.

Choices (*unverified* where marked):
- a segment is every joints line whose frameIndex lies in [start, end], in file order. Lines with a
  repeated frameIndex are all kept: in the data they hold different skeletons that move like
  consecutive frames (the repeated index looks like a mislabelled next frame), so dropping one
  would drop real motion. Gaps are not filled (preprocessing resamples every clip to T frames);
- all-zero joints lines (no skeleton) are removed wherever they are in a segment (preprocessing
  takes the valid frames to be contiguous); a segment with no non-zero line is a `Rejected` clip
  (label file + the segment's line): ingest stops on it with `on_error: fail` and lists it in
  skipped.parquet with `skip`, keeping the recording's other segments;
- label = the class order of SOURCE.md: walk, sitDown, standUp, pickUp, carry, throw, push, pull,
  waveHands, clapHands (0..9); meta: subject, recording, action (name), start, end (frameIndex);
- split `xsub` (*unverified*: SOURCE.md names "cross-subject with half the subjects for training"
  without the halves): odd subjects (1, 3, 5, 7, 9) train, even ones test, as MSR Action3D's
  cross-subject protocol. Leave-one-sequence-out, the other usual protocol, is not a split flag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, ReadResult, Rejected, Source, read_text
from skelssl.errors import ParseError, SkelsslError

ACTIONS: tuple[str, ...] = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull",
                            "waveHands", "clapHands")  # fmt: skip
DEFAULT_LABELS = "actionLabel.txt"
NUM_JOINTS = 20
SEQUENCE = re.compile(r"^s(\d{2})_e(\d{2})$")
SEGMENT = re.compile(r"^(\w+):\s*(\S+)\s+(\S+)$")


@dataclass(frozen=True)
class Segment:
    action: str
    start: int
    end: int
    line: int  # 1-based line of the segment in the label file


@dataclass(frozen=True)
class Recording:
    """One joints file and its labelled segments (the unit of work)."""

    name: str  # sSS_eEE
    path: Path
    labels: Path
    segments: tuple[Segment, ...]


def _frame(text: str, path: Path, line: int) -> int | None:
    """A segment boundary: an integer frame, or None for NaN."""
    if text.lower() == "nan":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ParseError(path, line, f"segment boundary {text!r} is not a number") from None
    if not value.is_integer() or value < 0:
        raise ParseError(path, line, f"segment boundary {text!r} is not a frame number")
    return int(value)


def read_labels(path: Path) -> dict[str, tuple[Segment, ...]]:
    """Label file → {sequence: segments}; NaN segments are left out. ParseError names the line."""
    blocks: dict[str, list[Segment]] = {}
    current: list[Segment] | None = None
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if SEQUENCE.match(line):
            if line in blocks:
                raise ParseError(path, number, f"sequence {line} appears twice")
            current = blocks[line] = []
            continue
        match = SEGMENT.match(line)
        if match is None:
            raise ParseError(path, number, f"expected 'sSS_eEE' or '<action>: <start> <end>', got {line!r}")
        if current is None:
            raise ParseError(path, number, "segment before the first sSS_eEE line")
        action, start_text, end_text = match.groups()
        if action not in ACTIONS:
            raise ParseError(path, number, f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
        start, end = _frame(start_text, path, number), _frame(end_text, path, number)
        if (start is None) != (end is None):
            raise ParseError(path, number, "only one boundary is NaN")
        if any(s.action == action for s in current):
            raise ParseError(path, number, f"action {action} appears twice in this sequence")
        if start is None or end is None:
            current.append(Segment(action, -1, -1, number))  # NaN: kept only to catch duplicates
            continue
        if end < start:
            raise ParseError(path, number, f"segment ends ({end}) before it starts ({start})")
        current.append(Segment(action, start, end, number))
    if not blocks:
        raise ParseError(path, 1, "no sSS_eEE sequence block")
    return {name: tuple(s for s in segs if s.start >= 0) for name, segs in blocks.items()}


def read_joints(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices (R,) int64, joints (R, 20, 3) float32) of a joints file, in file order."""
    frames, rows = [], []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + 3 * NUM_JOINTS:
            raise ParseError(path, number, f"expected {1 + 3 * NUM_JOINTS} numbers, got {len(fields)}")
        try:
            index = float(fields[0])
            values = [float(f) for f in fields[1:]]
        except ValueError:
            raise ParseError(path, number, f"not a number in line {number}") from None
        if not index.is_integer() or not all(math.isfinite(v) for v in values):
            raise ParseError(path, number, "frame index not an integer or a coordinate not finite")
        if not 0 <= index < 2**31:
            raise ParseError(path, number, f"frame index {fields[0]} out of range")
        frames.append(int(index))
        rows.append(values)
    if not rows:
        raise ParseError(path, 1, "empty file")
    return np.asarray(frames, dtype=np.int64), np.asarray(rows, dtype=np.float32).reshape(-1, NUM_JOINTS, 3)


class UTKinectSource(Source):
    name = "utkinect"
    layout = "kinect20"
    persons = 1

    def items(self, root: Path, cfg: IngestParams) -> list[Recording]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put UTKinect-Action3D's joints_sSS_eEE.txt files "
                "and actionLabel.txt there (or in its joints/ subfolder) or point ingest.input elsewhere"
            )
        folder = root / "joints" if (root / "joints").is_dir() else root
        if not any(folder.glob("joints_s*_e*.txt")):
            raise SkelsslError(f"ingest.input: no joints_sSS_eEE.txt files in {folder}")
        labels = folder / (DEFAULT_LABELS if cfg.labels == "default" else cfg.labels)
        if not labels.is_file():
            raise SkelsslError(f"ingest.labels: label file {labels} not found (default: {DEFAULT_LABELS})")
        blocks = read_labels(labels)
        return [Recording(name, folder / f"joints_{name}.txt", labels, segments)
                for name, segments in sorted(blocks.items())]

    def read(self, item: Recording, cfg: IngestParams) -> ReadResult:
        if not item.path.is_file():
            raise ParseError(item.path, 0, f"file not found (the label file {item.labels.name} lists {item.name})")
        frames, joints = read_joints(item.path)
        subject, recording = (int(g) for g in SEQUENCE.match(item.name).groups())  # type: ignore[union-attr]
        keep = joints.any(axis=(1, 2))  # all-zero lines carry no skeleton
        clips: ReadResult = []
        for seg in item.segments:
            rows = np.flatnonzero(keep & (frames >= seg.start) & (frames <= seg.end))
            if len(rows) == 0:
                clips.append(Rejected(item.labels, seg.line, f"{item.name} {seg.action}: no skeleton "
                                      f"frame in [{seg.start}, {seg.end}]"))
                continue
            meta = {"subject": subject, "recording": recording, "action": seg.action,
                    "start": seg.start, "end": seg.end}
            clips.append(Clip(f"{item.name}_{seg.action}", ACTIONS.index(seg.action),
                              np.ascontiguousarray(joints[rows][:, None]), meta,
                              {"xsub_train": subject % 2 == 1}))
        return clips
