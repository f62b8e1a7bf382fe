"""Sources for other codebases' preprocessed files (formats and safety: `skelssl.data.interchange`).

- `ctrgcn_npz`: a CTR-GCN/MAMP `.npz` (`ingest.input` is the file). Items: its train and test part.
  Clip `train_000123` = row 123 of x_train, cut to its valid length; label = argmax of the one-hot
  row; split column `<ingest.npz.benchmark>_train` (True for x_train rows); meta: row. Layout
  `ntu25` (150 = 2 × 25 × 3), 2 persons. All-zero rows give no clip (a warning counts them).
  *Unverified*: nothing in the file says whether the second person of single-actor rows is zeros
  or a copy (NTU-120 scripts), so joints are taken as stored.
- `pyskl`: a pyskl annotation pickle (`ingest.input` is the file), loaded only through the
  restricted unpickler. Clip name = frame_dir, label as stored, joints = keypoint (M, T, V, C)
  → (T, 2, 25, 3) (M < 2 zero-padded; only V = 25, C = 3 is accepted: layout `ntu25`); split
  columns `<b>_train` for every `<b>_train` list (a frame_dir must then be in `<b>_train` or, when
  the pickle has one, in `<b>_val`/`<b>_test`); meta: the annotations' extra int/str keys (the
  same keys in every annotation). pyskl's NTU-120 pickles call their cross-subject split `xsub`,
  not `xsub120`: the names are kept as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skelssl.config import IngestParams
from skelssl.console import log
from skelssl.data.interchange import (
    PYSKL_RESERVED,
    pyskl_annotations,
    pyskl_benchmarks,
    read_npz_part,
    scalar_meta,
)
from skelssl.data.sources.base import Clip, Source
from skelssl.errors import ParseError, SkelsslError


def _input_file(root: Path, what: str, example: str) -> Path:
    if not root.is_file():
        raise SkelsslError(f"ingest.input: file {root} not found; point it at {what} (e.g. {example})")
    return root


@dataclass(frozen=True)
class NpzPart:
    path: Path
    part: str  # "train" | "test"


class CtrgcnNpzSource(Source):
    name = "ctrgcn_npz"
    layout = "ntu25"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[NpzPart]:
        path = _input_file(root, "a CTR-GCN/MAMP .npz file", "NTU60_XSub.npz")
        return [NpzPart(path, "train"), NpzPart(path, "test")]

    def read(self, item: NpzPart, cfg: IngestParams) -> list[Clip]:
        flag = {f"{cfg.npz.benchmark}_train": item.part == "train"}
        clips, empty = [], 0
        for row, label, joints in read_npz_part(item.path, item.part):
            if joints is None:
                empty += 1
                continue
            clips.append(Clip(f"{item.part}_{row:06d}", label, joints, {"row": row}, flag))
        if empty:
            log.warning("%s: %d all-zero row(s) of x_%s give no clip", item.path, empty, item.part)
        return clips


def _keypoint(path: Path, k: int, ann: dict[str, Any]) -> np.ndarray:
    kp = ann.get("keypoint")
    where = f"annotation {k} ({ann.get('frame_dir')!r})"
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or kp.dtype.kind != "f":
        what = f"{kp.dtype} array of shape {kp.shape}" if isinstance(kp, np.ndarray) else type(kp).__name__
        raise ParseError(path, 0, f"{where}: keypoint must be a float (M, T, V, C) array, got {what}")
    m, t, v, c = kp.shape
    if not (1 <= m <= 2 and t >= 1 and v == 25 and c == 3):
        raise ParseError(path, 0, f"{where}: keypoint shape {kp.shape}; only 1-2 persons × T × 25 "
                         "joints × 3 (layout ntu25) is supported")
    if not np.isfinite(kp).all():
        raise ParseError(path, 0, f"{where}: non-finite keypoint values")
    total = ann.get("total_frames", t)
    if scalar_meta(total) != t:
        raise ParseError(path, 0, f"{where}: total_frames {total!r} but keypoint has {t} frames")
    joints = np.zeros((t, 2, 25, 3), dtype=np.float32)
    joints[:, :m] = kp.transpose(1, 0, 2, 3)
    return joints


class PysklSource(Source):
    name = "pyskl"
    layout = "ntu25"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[Path]:
        return [_input_file(root, "a pyskl annotation pickle", "ntu60_3danno.pkl")]

    def read(self, item: Path, cfg: IngestParams) -> list[Clip]:
        annotations, lists = pyskl_annotations(item)
        benchmarks = pyskl_benchmarks(item, lists)
        clips: list[Clip] = []
        seen: set[str] = set()
        meta_keys: list[str] | None = None
        for k, ann in enumerate(annotations):
            name, label = ann.get("frame_dir"), scalar_meta(ann.get("label"))
            if not isinstance(name, str) or not name:
                raise ParseError(item, 0, f"annotation {k}: frame_dir must be a non-empty string")
            if name in seen:
                raise ParseError(item, 0, f"annotation {k}: frame_dir {name!r} appears twice")
            seen.add(name)
            if not isinstance(label, int) or label < 0:
                raise ParseError(item, 0, f"annotation {k} ({name!r}): label must be an integer >= 0, "
                                 f"got {ann.get('label')!r}")
            meta = {key: scalar_meta(value) for key, value in ann.items() if key not in PYSKL_RESERVED}
            meta = {key: value for key, value in meta.items() if value is not None}
            if meta_keys is None:
                meta_keys = list(meta)
            elif sorted(meta) != sorted(meta_keys):
                raise ParseError(item, 0, f"annotation {k} ({name!r}): extra keys {sorted(meta)} differ "
                                 f"from the first annotation's {sorted(meta_keys)}")
            splits = {}
            for bench, (train, test) in benchmarks.items():
                if test is not None and name not in train and name not in test:
                    raise ParseError(item, 0, f"{name!r} is in neither {bench}_train nor the "
                                     f"{bench} test list")
                splits[f"{bench}_train"] = name in train
            clips.append(Clip(name, label, _keypoint(item, k, ann), {key: meta[key] for key in meta_keys},
                              splits))
        if not clips:
            raise ParseError(item, 0, "no annotations")
        return clips
