"""A simple format for any other dataset: one `.npy` array per sequence plus a `labels.csv`.

The folder `ingest.input` holds
- `<name>.npy` for every sequence: a float array (T, V, C) for one person or (T, M, V, C) for M
  persons, in the skeleton layout named by `ingest.layout` (a key of skelssl.skeleton.LAYOUTS;
  `auto` is refused here): V = the layout's joints in its order, C = its channels (3 for the Kinect
  layouts, 2 for coco17). Absent persons / frames are all zero; NaN or inf values are an error;
- `labels.csv` (or the file named by `ingest.labels`): comma-separated with a header line. Columns:
  `name` (the .npy file stem), `label`, then optional split columns `<split>_train` holding 1
  (training side) or 0 (test side), e.g. `xsub_train`, and any other columns (kept in the index as
  metadata: integers when every value is one, text otherwise; the names `frames`, `offset`,
  `class_name` and `original_label` are reserved). Labels are either all integers or all class
  names (text that is not a number; mapped to 0.. in sorted name order, the name kept in a
  `class_name` column); a mix, a non-integer number (`1.5`), a negative integer or one >= 2**31 is
  a ParseError naming the labels file and line. Integer labels are used as 0-based class indices
  when they are dense (every id 0..max occurs); otherwise they are renumbered 0..K-1 in ascending
  order of the K distinct ids and the id in the file is kept in an `original_label` column (so a
  sparse id such as 10000000 never builds a 10**7-class head).

Example:

    name,label,subject,xsub_train
    walk_001,0,1,1
    walk_002,0,2,0

What ingest gets: the rows of labels.csv in file order; M = the largest person count of the listed
arrays (clips with fewer persons are zero-padded); all-zero frames are removed wherever they are
(preprocessing takes the valid frames to be contiguous); an array with no non-zero frame is a
ParseError of that array (line 0). `.npy` files not listed in labels.csv are ignored. Malformed
rows raise ParseError (labels file + line); a listed array that is missing, not a plain file, of
the wrong shape or all zero is a ParseError of that array (line 0), which `ingest.on_error: skip`
can skip.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import (
    ORIGINAL_LABEL,
    Clip,
    ReadResult,
    Source,
    check_label,
    dense_labels,
    drop_zero_frames,
    read_text,
)
from skelssl.errors import ParseError, SkelsslError
from skelssl.skeleton import LAYOUTS, Layout

DEFAULT_LABELS = "labels.csv"
RESERVED = frozenset({"frames", "offset", "class_name", ORIGINAL_LABEL})  # index columns we write
INTEGER = re.compile(r"^[+-]?[0-9]+$")
NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(inf|infinity|nan)$", re.I)


@dataclass(frozen=True)
class GenericItem:
    path: Path
    name: str
    label: int
    persons: int  # M of the dataset (the array is padded to it)
    layout: Layout
    meta: dict[str, int | str] = field(default_factory=dict)
    splits: dict[str, bool] = field(default_factory=dict)


def _cell_int(text: str) -> int | None:
    """A metadata cell as an integer when it is one that fits int64 (else the column stays text)."""
    if INTEGER.match(text) is None:
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def parse_labels(path: Path, rows: list[dict[str, str]], lines: list[int]) -> tuple[list[int], list[str] | None]:
    """(class index of every row, sorted class names or None for integer labels); ParseError
    (labels file + line) for a mix of integers and names, a non-integer number, or an integer
    label that is negative or >= 2**31 (skelssl.data.sources.base.check_label)."""
    texts = [r["label"] for r in rows]
    is_int = [INTEGER.match(t) is not None for t in texts]
    if not any(is_int):
        for text, line in zip(texts, lines, strict=True):
            if NUMBER.match(text):
                raise ParseError(path, line, f"label {text!r} is a number but not an integer")
        names = sorted(set(texts))
        index = {name: k for k, name in enumerate(names)}
        return [index[t] for t in texts], names
    for text, integer, line in zip(texts, is_int, lines, strict=True):
        if not integer:
            kind = "a number but not an integer" if NUMBER.match(text) else "a class name"
            first = lines[is_int.index(True)]
            raise ParseError(path, line, f"label {text!r} is {kind}, but the label on line {first} is an "
                                         "integer; use integer class ids or class names throughout")
        check_label(int(text), path, line)
    return [int(t) for t in texts], None


def read_labels(path: Path) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """(header, rows as dicts, 1-based line of each row) of a labels.csv; ParseError on bad rows."""
    with io.StringIO(read_text(path), newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if header[:2] != ["name", "label"]:
            raise ParseError(path, 1, f"header must start with name,label, got {','.join(header)!r}")
        if len(set(header)) != len(header) or "" in header:
            raise ParseError(path, 1, "empty or repeated column name")
        rows, lines, names = [], [], set()
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(header):
                raise ParseError(path, line, f"expected {len(header)} values, got {len(cells)}")
            row = dict(zip(header, (c.strip() for c in cells), strict=True))
            if not row["name"] or "/" in row["name"] or row["name"] in (".", ".."):
                raise ParseError(path, line, f"bad sequence name {row['name']!r}")
            if row["name"] in names:
                raise ParseError(path, line, f"sequence {row['name']!r} listed twice")
            if not row["label"]:
                raise ParseError(path, line, "empty label")
            for key in header[2:]:
                if key.endswith("_train") and row[key] not in ("0", "1"):
                    raise ParseError(path, line, f"{key} must be 0 or 1, got {row[key]!r}")
            names.add(row["name"])
            rows.append(row)
            lines.append(line)
    if not rows:
        raise ParseError(path, 1, "no sequence rows")
    return header, rows, lines


def _array_shape(path: Path) -> tuple[int, ...]:
    try:
        return np.load(path, mmap_mode="r").shape
    except (OSError, ValueError) as exc:
        raise ParseError(path, 0, f"not a readable .npy array ({exc})") from None


class GenericSource(Source):
    """`layout` and `persons` are set per dataset by `items` (from ingest.layout and the arrays)."""

    name = "generic"
    layout = "auto"
    persons = 1

    def items(self, root: Path, cfg: IngestParams) -> list[GenericItem]:
        if cfg.layout == "auto" or cfg.layout not in LAYOUTS:
            raise SkelsslError(f"ingest.layout: the generic source needs the data's layout, one of "
                               f"{sorted(LAYOUTS)} (got {cfg.layout!r})")
        layout = LAYOUTS[cfg.layout]
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put one <name>.npy array per sequence and a "
                f"{DEFAULT_LABELS} (name,label[,<split>_train...]) there (see skelssl.data.sources.generic)"
            )
        labels = root / (DEFAULT_LABELS if cfg.labels == "default" else cfg.labels)
        if not labels.is_file():
            raise SkelsslError(f"ingest.labels: label file {labels} not found (default: {DEFAULT_LABELS})")
        header, rows, lines = read_labels(labels)
        values, class_names = parse_labels(labels, rows, lines)
        remap = dense_labels(values) if class_names is None else None
        extra = [k for k in header[2:] if not k.endswith("_train")]
        if RESERVED & set(extra):
            raise ParseError(labels, 1, f"column name {sorted(RESERVED & set(extra))[0]!r} is reserved "
                                        f"(the index has it); reserved: {', '.join(sorted(RESERVED))}")
        numeric = {k for k in extra if all(_cell_int(r[k]) is not None for r in rows)}
        persons = 1
        for row in rows:
            path = root / f"{row['name']}.npy"
            if path.is_file():
                shape = _array_shape(path)
                if len(shape) == 4:
                    persons = max(persons, shape[1])
        items = []
        for row, value in zip(rows, values, strict=True):
            meta: dict[str, int | str] = {k: int(row[k]) if k in numeric else row[k] for k in extra}
            if class_names is not None:
                meta["class_name"] = row["label"]
            label = value
            if remap is not None:
                meta[ORIGINAL_LABEL], label = value, remap[value]
            splits = {k: row[k] == "1" for k in header[2:] if k.endswith("_train")}
            items.append(GenericItem(root / f"{row['name']}.npy", row["name"], label, persons, layout,
                                     meta, splits))
        self.layout, self.persons = layout.name, persons  # type: ignore[misc]  # written to meta.json
        return items

    def read(self, item: GenericItem, cfg: IngestParams) -> ReadResult:
        if not item.path.is_file():
            what = "not a plain file" if item.path.exists() else "file not found"
            raise ParseError(item.path, 0, f"{what} (listed in the labels file)")
        try:
            array = np.load(item.path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ParseError(item.path, 0, f"not a readable .npy array ({exc})") from None
        layout = item.layout
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4 or array.shape[2:] != (layout.num_joints, layout.channels):
            raise ParseError(item.path, 0, f"shape {array.shape} is not (T, V, C) or (T, M, V, C) with "
                                           f"V = {layout.num_joints}, C = {layout.channels} (layout {layout.name})")
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise ParseError(item.path, 0, f"dtype {array.dtype} is not a real number type")
        with np.errstate(over="ignore"):  # values beyond float32 become inf: refused just below
            array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ParseError(item.path, 0, "NaN or infinite values (absent joints must be 0)")
        array, _ = drop_zero_frames(array, item.path, 0, "array")
        joints = np.zeros((len(array), item.persons, *array.shape[2:]), dtype=np.float32)
        joints[:, : array.shape[1]] = array
        return [Clip(item.name, item.label, joints, item.meta, item.splits)]
