"""PKU-MMD phase I and II (methods.md §8.2, §7.4; shared/data/real/pku_mmd_v1/SOURCE.md).

Format followed:
- skeleton file `<video>.txt` per long untrimmed video (phase I `0002-L`, phase II `A01N01-L`; view
  L/M/R): one line per frame, 150 whitespace-separated numbers = 2 persons × 25 joints (NTU order)
  × x, y, z in metres; person 2 all zero when absent;
- label file of the same name: one action instance per line, `class,start,end,confidence` (class
  1-51, integers, comma separated);
- split files (`cross-subject.txt` / `cross-view.txt`; phase II `cross_subject_v2.txt` /
  `cross_view_v2.txt`; `-` and `_` spellings both accepted): a header line ending in `:`
  ("Training videos:"), the comma-separated training videos, a second header ("Validataion
  videos:", sic), the test videos. → split columns `xsub_train` and `xview_train`.

One clip per labelled action instance, named `<video>_<start>-<end>`, label = class − 1 (51 classes),
layout `ntu25` with 2 persons; meta: video, view, start, end, confidence, actors (2 when person 2 is
non-zero in the clip), frames_removed.

Choices (documented, partly *unverified*):
- `ingest.pku_mmd.frames`: `inclusive` takes rows [start − 1, end) (1-based inclusive frame numbers,
  as the brief and AimCLR's tools read them), a start of 0 being taken as frame 1 (three phase-I
  label rows start at 0); `mamp` takes rows [start, end) exactly as MAMP's `pku_gendata.py` slices
  (dropping the first labelled frame). Which convention the authors meant is unverified.
- Like both reference scripts' slicing, an end beyond the last frame is cut to it (logged); an
  instance whose range is empty (one phase-I row has end < start: 0043-L line 21) is left out with a
  warning naming file and line; a repeated range in one label file is a ParseError.
- Frames where both persons are all zero are removed wherever they are (CTR-GCN step 5 style;
  MAMP instead keeps them and skips all-zero clips); an instance left without frames is a
  `Rejected` clip (label file + line): ingest stops on it with `on_error: fail` and lists it in
  skipped.parquet with `skip`, keeping the video's other instances.
- `ingest.second_person` applies to single-actor clips as for NTU (MAMP's PKU script keeps zeros).
- Phase II: file naming and split-file names from methods.md §8.2; its class count is *unverified*
  (the self-supervised codebases use 51-way labels, so 1..51 is accepted for both phases); no
  phase-II files were available to test with.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.console import log
from skelssl.data.sources.base import Clip, ReadResult, Rejected, Source, drop_zero_frames
from skelssl.errors import ParseError, SkelsslError

NUM_CLASSES = 51
VALUES_PER_FRAME = 150  # 2 persons × 25 joints × xyz
VIDEO_NAME: dict[int, re.Pattern[str]] = {
    1: re.compile(r"^\d{4}-[LMR]$"),
    2: re.compile(r"^A\d{2}N\d{2}-[LMR]$"),
}
EXAMPLE_NAME = {1: "0002-L", 2: "A01N01-L"}
SKELETON_DIRS = ("skeleton", "Skeleton", "skeletons", "PKU_Skeleton_Renew", "Data/PKU_Skeleton_Renew")
LABEL_DIRS = ("label", "Label", "labels", "Train_Label_PKU_final", "Label/Train_Label_PKU_final")
SPLIT_DIRS = ("split", "Split", "splits")
SPLIT_FILES: dict[int, dict[str, tuple[str, ...]]] = {
    1: {"xsub": ("cross-subject.txt", "cross_subject.txt"), "xview": ("cross-view.txt", "cross_view.txt")},
    2: {"xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt"),
        "xview": ("cross_view_v2.txt", "cross-view_v2.txt")},
}
_DECIMAL = np.zeros(256, dtype=bool)  # bytes a plain decimal number line may contain
_DECIMAL[list(b"0123456789.+-eE \t\r\n")] = True


@dataclass(frozen=True)
class PKUItem:
    skeleton: Path
    labels: Path
    video: str
    splits: Mapping[str, bool | None]  # None: the video is in neither list of that split file
    split_files: Mapping[str, Path]


@dataclass(frozen=True)
class Instance:
    line: int
    cls: int  # 1-based
    start: int
    end: int
    confidence: int


# ---------------------------------------------------------------------------- files


def read_skeleton(path: Path) -> np.ndarray:
    """(T, 150) float32 of a skeleton file; ParseError names the first bad line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, 0, f"cannot read file: {exc.strerror or exc}") from None
    a = np.frombuffer(data, dtype=np.uint8)
    ws = (a == 32) | (a - np.uint8(9) <= 4)  # space, \t \n \v \f \r
    starts = np.flatnonzero(~ws & np.concatenate(([True], ws[:-1])))
    if not len(starts):
        raise ParseError(path, 1, "empty file")
    newlines = np.flatnonzero(a == 10)
    line_of = np.searchsorted(newlines, starts)  # 0-based line of every token
    num_lines = int(line_of[-1]) + 1  # trailing blank lines are ignored
    counts = np.bincount(line_of, minlength=num_lines)
    bad = np.flatnonzero(counts != VALUES_PER_FRAME)
    if len(bad):
        k = int(bad[0])
        raise ParseError(path, k + 1, f"{counts[k]} values, expected {VALUES_PER_FRAME} "
                         "(2 persons × 25 joints × x, y, z)")
    values = np.zeros(0)
    if _DECIMAL[a].all():
        try:
            with warnings.catch_warnings():  # numpy < 2.3 warns instead of raising
                warnings.simplefilter("error", DeprecationWarning)
                values = np.fromstring(data.decode("ascii"), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            values = np.zeros(0)
    if values.size != num_lines * VALUES_PER_FRAME or not np.isfinite(values).all():
        _check_lines(path, data)
        raise ParseError(path, 0, "unreadable numbers")  # not reached: _check_lines raises
    return values.astype(np.float32).reshape(num_lines, VALUES_PER_FRAME)


def _check_lines(path: Path, data: bytes) -> None:
    """Strict per-line conversion to name the first bad value."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        for token in line.split():
            try:
                value = float(token)
            except ValueError:
                text = token.decode("ascii", errors="backslashreplace")[:40]
                raise ParseError(path, number, f"not a number: {text!r}") from None
            if not np.isfinite(value):
                raise ParseError(path, number, f"non-finite value {token.decode('ascii', 'replace')!r}")


def read_labels(path: Path) -> list[Instance]:
    """Action instances of a label file; ParseError names the bad line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, 0, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    rows: list[Instance] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            raise ParseError(path, number, f"expected 4 comma-separated fields (class,start,end,confidence), "
                             f"got {len(fields)}")
        try:
            cls, start, end, confidence = (int(f) for f in fields)
        except ValueError:
            raise ParseError(path, number, f"not an integer in {line.strip()!r}") from None
        if not 1 <= cls <= NUM_CLASSES:
            raise ParseError(path, number, f"class {cls} is outside 1..{NUM_CLASSES}")
        if start < 0 or end < 0:
            raise ParseError(path, number, f"negative frame number in {line.strip()!r}")
        rows.append(Instance(number, cls, start, end, confidence))
    if not rows:
        raise ParseError(path, 1, "no action instances")
    return rows


def read_split(path: Path, pattern: re.Pattern[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(training videos, test videos) of an official split file."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, 0, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    parts: list[set[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.endswith(":"):
            if len(parts) == 2:
                raise ParseError(path, number,
                                 f"a third header {stripped!r}; expected training and test lists only")
            parts.append(set())
            continue
        if not parts:
            raise ParseError(path, number, "expected a header line such as 'Training videos:' first")
        for name in (n.strip() for n in stripped.split(",")):
            if not name:
                continue
            if not pattern.match(name):
                raise ParseError(path, number, f"{name!r} is not a video name of this phase")
            parts[-1].add(name)
    if len(parts) != 2:
        raise ParseError(path, 0,
                         f"found {len(parts)} header line(s); expected 2 (training, then test videos)")
    train, test = parts
    both = sorted(train & test)
    if both:
        raise ParseError(path, 0, f"{both[0]} is in both the training and the test list")
    return frozenset(train), frozenset(test)


# ---------------------------------------------------------------------------- source


def _folder(root: Path, value: str, candidates: tuple[str, ...], param: str, what: str) -> Path:
    if value != "auto":
        folder = root / value
        if not folder.is_dir():
            raise SkelsslError(f"{param}: {what} folder {folder} not found")
        return folder
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    raise SkelsslError(f"{param}: no {what} folder in {root} (looked for {', '.join(candidates)}); "
                       "set it to the folder's path")


def _split_file(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise SkelsslError(f"ingest.pku_mmd.splits: no {' or '.join(names)} in {folder}")


class PKUMMDSource(Source):
    name = "pku_mmd"
    layout = "ntu25"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[PKUItem]:
        p = cfg.pku_mmd
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; point it at the PKU-MMD phase {p.phase} folder "
                "(with the skeleton, label and split folders)"
            )
        pattern = VIDEO_NAME[p.phase]
        skeletons = _folder(root, p.skeletons, SKELETON_DIRS, "ingest.pku_mmd.skeletons", "skeleton")
        labels = _folder(root, p.labels, LABEL_DIRS, "ingest.pku_mmd.labels", "label")
        split_dir = _folder(root, p.splits, SPLIT_DIRS, "ingest.pku_mmd.splits", "split")
        files = sorted(f for f in skeletons.glob("*.txt") if pattern.match(f.stem))
        if not files:
            raise SkelsslError(f"ingest.input: no PKU-MMD phase {p.phase} skeleton files "
                               f"(e.g. {EXAMPLE_NAME[p.phase]}.txt) in {skeletons}")
        split_files = {s: _split_file(split_dir, names) for s, names in SPLIT_FILES[p.phase].items()}
        lists = {s: read_split(path, pattern) for s, path in split_files.items()}
        items = []
        for f in files:
            membership = {s: True if f.stem in train else False if f.stem in test else None
                          for s, (train, test) in lists.items()}
            items.append(PKUItem(f, labels / f.name, f.stem, membership, split_files))
        return items

    def read(self, item: PKUItem, cfg: IngestParams) -> ReadResult:
        for split, member in item.splits.items():
            if member is None:
                raise ParseError(item.skeleton, 0, f"video {item.video} is in neither list of "
                                 f"{item.split_files[split]}")
        if not item.labels.is_file():
            raise ParseError(item.skeleton, 0, f"no label file {item.labels}")
        instances = read_labels(item.labels)
        skeleton = read_skeleton(item.skeleton).reshape(-1, 2, 25, 3)
        total = len(skeleton)
        splits = {f"{s}_train": bool(m) for s, m in item.splits.items()}
        clips: ReadResult = []
        seen: dict[tuple[int, int], int] = {}
        for ins in instances:
            if (ins.start, ins.end) in seen:
                raise ParseError(item.labels, ins.line, f"frame range {ins.start}-{ins.end} repeats "
                                 f"line {seen[ins.start, ins.end]}")
            seen[ins.start, ins.end] = ins.line
            first = max(ins.start, 1) - 1 if cfg.pku_mmd.frames == "inclusive" else ins.start
            stop = ins.end
            if stop > total:
                log.warning("%s:%d: end frame %d beyond the %d frames of %s; cut to the last frame",
                            item.labels, ins.line, ins.end, total, item.skeleton.name)
                stop = total
            if stop <= first:
                log.warning("%s:%d: empty frame range %d-%d; instance left out",
                            item.labels, ins.line, ins.start, ins.end)
                continue
            try:
                joints, removed = drop_zero_frames(skeleton[first:stop], item.labels, ins.line,
                                                   f"instance {ins.start}-{ins.end} of {item.video}")
            except ParseError as exc:
                clips.append(Rejected(exc.path, exc.line, exc.message))
                continue
            actors = 2 if joints[:, 1].any() else 1
            if cfg.second_person == "copy" and actors == 1:
                joints = joints.copy()
                joints[:, 1] = joints[:, 0]
            meta = {
                "video": item.video, "view": item.video[-1], "start": ins.start, "end": ins.end,
                "confidence": ins.confidence, "actors": actors,
                "frames_removed": removed,
            }  # fmt: skip
            clips.append(Clip(f"{item.video}_{ins.start}-{ins.end}", ins.cls - 1,
                              np.ascontiguousarray(joints), meta, splits))
        return clips
