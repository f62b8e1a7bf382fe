"""SBU Kinect Interaction v2.0, clean skeleton set (shared/data/real/sbu_kinect_interaction/SOURCE.md).

Format followed: `<set>/<class>/<seq>/skeleton_pos.txt`, set = `sAAsBB` (participants A and B),
class `01`..`08`, seq `001`, …; comma-separated, one line per frame: the original frame number, then
15 joints × (x, y, z) of person A (the one on the left), then the same of person B (91 values).
Joints in the OpenNI/NiTE 15-joint order (layout `openni15`). 282 sequences, 8 classes, 21 sets,
7 participants, 10–46 frames.

Coordinates: x, y are normalised image coordinates with y growing *downward*, z a normalised depth.
We undo the normalisation with the formula of the authors' README (SOURCE.md),
X = 1280 − 2560·x, Y = 960 − 1920·y, Z = 10000·z / 7.8125 (millimetres), and divide by 1000, so
clips are in metres with y up, like the Kinect datasets (on the data: head-to-foot ≈ 1.44 m,
shoulder width ≈ 0.30 m, mean depth ≈ 2.15 m). The frame-number column is not used (rows are
taken in file order). Frames where both persons are all zero are removed wherever they are
(preprocessing takes the valid frames to be contiguous; none in the real data); a file with no
non-zero frame is a ParseError (file, line 1), skippable with `ingest.on_error: skip`.
Every `sAAsBB/<class>/<seq>/skeleton_pos.txt` entry must be a readable file: a folder or a
dangling symlink of that name is a ParseError of that path (skippable), not ignored.

Labels and splits: label = class − 1 (approaching, departing, kicking, punching, pushing, hugging,
shaking hands, exchanging); meta: set, participant_a, participant_b, sequence. Splits `fold1` ..
`fold5`: the 5-fold cross-validation over sets listed in SOURCE.md (from Yun et al.); `foldK_train`
is True outside fold K (fold K is the test side). *Unverified*: SOURCE.md asks to check this fold
list against the authors' README before reporting numbers; a set missing from every fold is
training data in all folds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, ReadResult, Source, drop_zero_frames, read_text
from skelssl.errors import ParseError, SkelsslError

FILE = "skeleton_pos.txt"
NUM_JOINTS = 15
NUM_CLASSES = 8
SET = re.compile(r"^s(\d{2})s(\d{2})$")
FOLDS: tuple[frozenset[str], ...] = (
    frozenset({"s01s02", "s03s04", "s05s02", "s06s04"}),
    frozenset({"s02s03", "s02s07", "s03s05", "s05s03"}),
    frozenset({"s01s03", "s01s07", "s07s01", "s07s03"}),
    frozenset({"s02s01", "s02s06", "s03s02", "s03s06"}),
    frozenset({"s04s02", "s04s03", "s04s06", "s06s02", "s06s03"}),
)


@dataclass(frozen=True)
class SBUItem:
    path: Path
    set: str
    label: int  # 0-based
    sequence: str


def to_metres(values: np.ndarray) -> np.ndarray:
    """Normalised (T, M, V, 3) SBU coordinates → metres, y up (the README's formula / 1000).

    A person-frame whose values are all zero (absent) stays all zero.
    """
    out = np.empty(values.shape, dtype=np.float32)
    out[..., 0] = (1280.0 - 2560.0 * values[..., 0]) / 1000.0
    out[..., 1] = (960.0 - 1920.0 * values[..., 1]) / 1000.0
    out[..., 2] = (10000.0 / 7.8125) * values[..., 2] / 1000.0
    out[~values.any(axis=(-2, -1))] = 0.0
    return out


def read_sbu(path: Path) -> np.ndarray:
    """(T, 2, 15, 3) normalised coordinates of a skeleton_pos.txt; ParseError names the bad line."""
    text = read_text(path)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 1 + 2 * 3 * NUM_JOINTS:
            raise ParseError(path, number, f"expected {1 + 6 * NUM_JOINTS} comma-separated values, "
                                           f"got {len(fields)}")
        try:
            values = [float(f) for f in fields[1:]]
        except ValueError:
            raise ParseError(path, number, "not a number") from None
        if not np.isfinite(values).all():
            raise ParseError(path, number, "non-finite coordinate")
        rows.append(values)
    if not rows:
        raise ParseError(path, 1, "empty file")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2, NUM_JOINTS, 3)


class SBUSource(Source):
    name = "sbu"
    layout = "openni15"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[SBUItem]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put the SBU Kinect Interaction set folders "
                f"(sAAsBB/<class>/<seq>/{FILE}) there or point ingest.input elsewhere"
            )
        items = []
        # a wildcard last component also lists dangling symlinks (a literal one skips them silently)
        for path in sorted(p for p in root.glob("s*s*/*/*/*") if p.name == FILE):
            seq_dir = path.parent
            set_name, class_dir = seq_dir.parent.parent.name, seq_dir.parent.name
            if SET.match(set_name) is None:
                continue
            if not (class_dir.isdigit() and 1 <= int(class_dir) <= NUM_CLASSES):
                raise ParseError(path, 0, f"class folder {class_dir!r} is not 01..{NUM_CLASSES:02d}")
            items.append(SBUItem(path, set_name, int(class_dir) - 1, seq_dir.name))
        if not items:
            raise SkelsslError(f"ingest.input: no sAAsBB/<class>/<seq>/{FILE} files in {root}")
        return items

    def read(self, item: SBUItem, cfg: IngestParams) -> ReadResult:
        joints, _ = drop_zero_frames(np.ascontiguousarray(to_metres(read_sbu(item.path))), item.path, 1)
        a, b = (int(g) for g in SET.match(item.set).groups())  # type: ignore[union-attr]
        meta = {"set": item.set, "participant_a": a, "participant_b": b, "sequence": item.sequence}
        splits = {f"fold{k + 1}_train": item.set not in fold for k, fold in enumerate(FOLDS)}
        name = f"{item.set}_{item.label + 1:02d}_{item.sequence}"
        return [Clip(name, item.label, joints, meta, splits)]
