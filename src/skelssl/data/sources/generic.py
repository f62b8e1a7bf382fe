"""A simple format for any other dataset: one `.npy` array per sequence plus a `labels.csv`.

The folder `ingest.input` holds
- `<name>.npy` for every sequence: a float array (T, V, C) for one person or (T, M, V, C) for M
  persons, in the skeleton layout named by `ingest.layout` (a key of skelssl.skeleton.LAYOUTS;
  `auto` is refused here): V = the layout's joints in its order, C = its channels (3 for the Kinect
  layouts, 2 for coco17). Absent persons / frames are all zero; NaN or inf values are an error;
- `labels.csv` (or the file named by `ingest.labels`): comma-separated with a header line. Columns:
  `name` (the .npy file stem), `label`, then optional split columns `<split>_train` holding 1
  (training side) or 0 (test side), e.g. `xsub_train`, and any other columns (kept in the index as
  metadata: integers when every value is one, text otherwise). Labels are either all non-negative
  integers (used as 0-based class indices) or class names (mapped to 0.. in sorted name order; the
  name is kept in a `class_name` column).

Example:

    name,label,subject,xsub_train
    walk_001,0,1,1
    walk_002,0,2,0

What ingest gets: the rows of labels.csv in file order; M = the largest person count of the listed
arrays (clips with fewer persons are zero-padded); all-zero frames are removed (preprocessing takes
the valid frames to be contiguous). `.npy` files not listed in labels.csv are ignored. Malformed
rows raise ParseError (labels file + line); a listed array that is missing or of the wrong shape is
a ParseError of that array (line 0), which `ingest.on_error: skip` can skip.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.sources.base import Clip, Source, read_text
from skelssl.errors import ParseError, SkelsslError
from skelssl.skeleton import LAYOUTS, Layout

DEFAULT_LABELS = "labels.csv"


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
    try:
        return int(text)
    except ValueError:
        return None


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
        values = [_cell_int(r["label"]) for r in rows]
        class_names = sorted({r["label"] for r in rows}) if None in values else None
        if class_names is None:
            for value, line in zip(values, lines, strict=True):
                if value is not None and value < 0:
                    raise ParseError(labels, line, f"label {value} is negative")
        label_of = {c: i for i, c in enumerate(class_names or [])}
        extra = [k for k in header[2:] if not k.endswith("_train")]
        numeric = {k for k in extra if all(_cell_int(r[k]) is not None for r in rows)}
        persons = 1
        for row in rows:
            path = root / f"{row['name']}.npy"
            if path.is_file():
                shape = _array_shape(path)
                if len(shape) == 4:
                    persons = max(persons, shape[1])
        items = []
        for row in rows:
            meta: dict[str, int | str] = {k: int(row[k]) if k in numeric else row[k] for k in extra}
            if class_names is not None:
                meta["class_name"] = row["label"]
            label = label_of[row["label"]] if class_names is not None else int(row["label"])
            splits = {k: row[k] == "1" for k in header[2:] if k.endswith("_train")}
            items.append(GenericItem(root / f"{row['name']}.npy", row["name"], label, persons, layout,
                                     meta, splits))
        self.layout, self.persons = layout.name, persons  # type: ignore[misc]  # written to meta.json
        return items

    def read(self, item: GenericItem, cfg: IngestParams) -> list[Clip]:
        if not item.path.is_file():
            raise ParseError(item.path, 0, "file not found (listed in the labels file)")
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
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ParseError(item.path, 0, "NaN or infinite values (absent joints must be 0)")
        array = array[array.any(axis=(1, 2, 3))]
        if len(array) == 0:
            raise ParseError(item.path, 0, "no non-zero frame")
        joints = np.zeros((len(array), item.persons, *array.shape[2:]), dtype=np.float32)
        joints[:, : array.shape[1]] = array
        return [Clip(item.name, item.label, joints, item.meta, item.splits)]
