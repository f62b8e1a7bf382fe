"""What a data source gives the ingest stage: labelled clips in a known skeleton layout.

A source turns one dataset in its original form (NTU `.skeleton` files, PKU-MMD sequences + label
files, a CTR-GCN `.npz`, ...) into `Clip`s. The ingest stage (`skelssl.pipeline.ingest`) lists a
source's work items, reads them (possibly in worker processes, so items must be picklable) and
streams the clips into the ingest artifact. Sources never write files.

Rules every source follows (issue 11):
- frames: every clip's frames are all non-zero (a frame is zero when every coordinate of every
  person is 0): zero frames anywhere in a clip (leading, interior, trailing) are removed, since
  preprocessing takes a clip's valid frames to be contiguous from frame 0; a clip with no non-zero
  frame is an error (`drop_zero_frames`). A source whose item is one clip raises it as the item's
  ParseError; a source whose item holds many clips (a pickle, an .npz part, a video with several
  labelled instances) returns a `Rejected` entry for that clip instead, so ingest fails
  (`on_error: fail`) or records it in skipped.parquet (`on_error: skip`) without losing the
  item's other clips;
- labels: integers 0 <= label < `LABEL_LIMIT` (2**31, so every later stage holds them in int32 or
  int64). Sources with a fixed class list (ntu, pku_mmd, msr_action3d, utkinect, sbu, ctrgcn_npz)
  give their class index; the open formats (generic, pyskl) refuse a negative, non-integer or
  too large label with a ParseError (file + line) and remap a sparse label set densely
  (`dense_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Union

import numpy as np

from skelssl.config import IngestParams
from skelssl.errors import ParseError


@dataclass(frozen=True)
class Clip:
    """One labelled action sequence."""

    name: str  # unique within the dataset (file stem, or stem + frame range)
    label: int  # 0-based class index
    joints: np.ndarray  # (T, M, V, C) float32; persons beyond the actors are all-zero
    meta: Mapping[str, int | str]  # source columns for the index (performer, camera, ...)
    splits: Mapping[str, bool]  # "<split>_train" → True on the training side of that benchmark


@dataclass(frozen=True)
class Rejected:
    """A clip that a multi-clip item cannot give (e.g. every frame zero): ingest treats it as a
    ParseError of that clip (`on_error: fail` stops, `skip` lists it in skipped.parquet), while
    the item's other clips are kept."""

    path: Path
    line: int  # 1-based; 0 = the file as a whole
    message: str


ReadResult = list[Union[Clip, Rejected]]  # what `Source.read` returns

LABEL_LIMIT = 2**31  # labels are < this: they fit int32 (torch, polars) and never overflow int64
ORIGINAL_LABEL = "original_label"  # index column of the stored label when `dense_labels` remapped it


class Source:
    """A dataset format. Subclasses set the class attributes and implement `items` and `read`."""

    name: ClassVar[str]  # key in SOURCES and value of `ingest.source`
    layout: ClassVar[str]  # key of skelssl.skeleton.LAYOUTS
    persons: ClassVar[int]  # M of every clip

    def items(self, root: Path, cfg: IngestParams) -> Sequence[Any]:
        """Picklable units of work (usually files) in a fixed order; SkelsslError naming the
        `ingest.input` param when `root` is missing or holds nothing of this format."""
        raise NotImplementedError

    def read(self, item: Any, cfg: IngestParams) -> ReadResult:
        """The clips of one item; ParseError (file + 1-based line) when it is malformed, a
        `Rejected` entry for a clip of a multi-clip item that cannot be given."""
        raise NotImplementedError


def read_text(path: Path) -> str:
    """A text file's content; ParseError naming the 1-based line of the first byte that is not
    UTF-8 (fuzzing found raw UnicodeDecodeErrors escaping the text-format readers); line 0 when it
    is not a readable file (a folder or a dangling symlink where a file is expected)."""
    if not path.is_file():
        raise ParseError(path, 0, "not a readable file (a folder or a dangling symlink)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, 0, f"cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def drop_zero_frames(joints: np.ndarray, path: Path, line: int, what: str = "clip") -> tuple[np.ndarray, int]:
    """(joints (T, ...) without its all-zero frames, number of frames removed); ParseError(path,
    line) naming `what` when no frame is left. The input is returned as is when nothing is removed."""
    present = joints.any(axis=tuple(range(1, joints.ndim)))  # (T,); T = 0 gives no frame
    if not present.any():
        raise ParseError(path, line, f"{what}: every frame is all zero (no skeleton); "
                                     "ingest.on_error: skip leaves such clips out")
    if present.all():
        return joints, 0
    return np.ascontiguousarray(joints[present]), int((~present).sum())


def check_label(value: int, path: Path, line: int, what: str = "label") -> int:
    """`value` when 0 <= value < LABEL_LIMIT, else ParseError(path, line)."""
    if value < 0:
        raise ParseError(path, line, f"{what} {value} is negative (labels are class indices >= 0)")
    if value >= LABEL_LIMIT:
        raise ParseError(path, line, f"{what} {value} is too large (labels must be < 2**31; "
                                     "use class names or smaller ids)")
    return value


def dense_labels(labels: Sequence[int]) -> dict[int, int] | None:
    """None when `labels` (non-negative) are already dense, i.e. every id 0..max occurs; otherwise
    {stored id: dense index}, the distinct ids numbered 0..K-1 in ascending order (so a sparse set
    such as {3, 10**7} never builds a 10**7-class head). The stored id goes to `ORIGINAL_LABEL`."""
    ids = sorted(set(labels))
    if not ids or ids[-1] + 1 == len(ids):
        return None
    return {value: k for k, value in enumerate(ids)}
