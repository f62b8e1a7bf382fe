"""Sources for other codebases' preprocessed files (formats and safety: `skelssl.data.interchange`).

- `ctrgcn_npz`: a CTR-GCN/MAMP `.npz` (`ingest.input` is the file). Items: its train and test part.
  Clip `train_000123` = row 123 of x_train, cut to its valid length; label = argmax of the one-hot
  row; split column `<ingest.npz.benchmark>_train` (True for x_train rows); meta: row. Layout
  `ntu25` (150 = 2 × 25 × 3), 2 persons. Zero frames (both persons all zero) are removed
  wherever they are in the row (the padding after the valid frames and any inside them); an
  all-zero row is a `Rejected` clip (file, line 0, row number): ingest stops on it with
  `on_error: fail` and lists it in skipped.parquet with `skip`, keeping the part's other rows.
  *Unverified*: nothing in the file says whether the second person of single-actor rows is zeros
  or a copy (NTU-120 scripts), so joints are taken as stored.
- `pyskl`: a pyskl annotation pickle (`ingest.input` is the file), loaded only through the
  restricted unpickler. Clip name = frame_dir, label as stored, joints = keypoint (M, T, V, C)
  → (T, 2, 25, 3) (M < 2 zero-padded; V = 25, C = 3: layout `ntu25`; for 2D pickles see below); split
  columns `<b>_train` for every `<b>_train` list (a frame_dir must then be in `<b>_train` or, when
  the pickle has one, in `<b>_val`/`<b>_test`); meta: the annotations' extra int/str keys (the
  same keys in every annotation; `name`, `frames`, `offset`, `original_label` and `*_train` are
  refused, the index has them). pyskl's NTU-120 pickles call their cross-subject split `xsub`,
  not `xsub120`: the names are kept as stored.
  Labels: integers 0 <= label < 2**31 (else ParseError naming the annotation); dense label sets
  (every id 0..max present) are kept, a sparse set is renumbered 0..K-1 in ascending id order
  with the stored label in an `original_label` column. Frames: all-zero frames (every person's
  coordinates 0) are removed wherever they are (pyskl pads and may keep untracked frames inside
  a clip; preprocessing takes the valid frames to be contiguous); an annotation with no non-zero
  frame is a `Rejected` clip (pickle, line 0), failed or skipped per `ingest.on_error` without
  losing the other annotations.
- `pyskl` 2D (`ingest.layout: coco17`; `auto` or `ntu25` = the 3D pickles above): pyskl's HRNet
  annotations, keypoint (M, T, 17, 2) pixels in COCO-17 order + keypoint_score (M, T, 17) in [0, 1]
  (optional), img_shape (h, w) (pyskl's default (1080, 1920) when absent) → (T, 2, 17, 2), layout
  `coco17`. M > 2 keeps the first two persons, as pyskl's FormatGCNInput(num_person=2).
  Coordinates: x' = (x − w/2) / (h/2), y' = (h/2 − y) / (h/2): origin at the image centre, **y up**
  like every other source, one scale for both axes (pyskl's PreNormalize2D divides x by w/2, which
  squeezes 16:9 frames and turns our in-plane rotations into shears). Scores: a person-frame is
  absent (all zero, as pyskl pads) when its coordinates are all 0 or its scores are all 0;
  otherwise every keypoint keeps HRNet's position whatever its score (a heatmap argmax exists for
  every joint). Low-score joints are not zeroed: a zero joint of a present person becomes minus
  the origin after preprocessing's centring and a jump in the motion stream and mask prior (the
  placeholder evidence in `skelssl.data.sources.penn_action`). The scores are then dropped (the
  layout's channels are x, y).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from skelssl.config import IngestParams
from skelssl.data.interchange import (
    PYSKL_RESERVED,
    pyskl_annotations,
    pyskl_benchmarks,
    read_npz_part,
    scalar_meta,
)
from skelssl.data.sources.base import (
    ORIGINAL_LABEL,
    Clip,
    ReadResult,
    Rejected,
    Source,
    check_label,
    dense_labels,
    drop_zero_frames,
)
from skelssl.errors import ParseError, SkelsslError
from skelssl.skeleton import COCO17, LAYOUTS, NTU25, Layout

PYSKL_LAYOUTS = ("ntu25", "coco17")  # ingest.layout values the pyskl source reads ("auto": ntu25)
PYSKL_IMG_SHAPE = (1080, 1920)  # pyskl's PreNormalize2D default (h, w)


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

    def read(self, item: NpzPart, cfg: IngestParams) -> ReadResult:
        flag = {f"{cfg.npz.benchmark}_train": item.part == "train"}
        clips: ReadResult = []
        for row, label, joints in read_npz_part(item.path, item.part):
            try:
                if joints is None:  # read_npz_part: no non-zero frame
                    joints = np.zeros((0, 2, 25, 3), dtype=np.float32)
                joints, _ = drop_zero_frames(joints, item.path, 0, f"x_{item.part} row {row}")
            except ParseError as exc:
                clips.append(Rejected(exc.path, exc.line, exc.message))
                continue
            clips.append(Clip(f"{item.part}_{row:06d}", label, joints, {"row": row}, flag))
        return clips


def pyskl_layout(cfg: IngestParams) -> Layout:
    """The layout of a pyskl pickle from `ingest.layout` ("auto" = ntu25, the 3D pickles)."""
    name = "ntu25" if cfg.layout == "auto" else cfg.layout
    if name not in PYSKL_LAYOUTS:
        raise SkelsslError(f"ingest.layout: the pyskl source reads {' or '.join(PYSKL_LAYOUTS)} "
                           f"(3D NTU or 2D COCO-17 keypoints), got {cfg.layout!r}")
    return LAYOUTS[name]


def _image_2d(path: Path, where: str, kp: np.ndarray, ann: dict[str, Any]) -> np.ndarray:
    """2D keypoints (M, T, V, 2) in pixels → image-centred, y up, in half image heights; absent
    person-frames (coordinates or scores all 0) all zero (see the module doc)."""
    shape = ann.get("img_shape", PYSKL_IMG_SHAPE)
    hw = [scalar_meta(v) for v in shape] if isinstance(shape, tuple | list) else []
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise ParseError(path, 0, f"{where}: img_shape must be (height, width) in pixels, got {shape!r}")
    h, w = hw
    kp = kp.astype(np.float32)
    present = kp.any(axis=(2, 3))  # (M, T)
    score = ann.get("keypoint_score")
    if score is not None:
        stored = ann["keypoint"].shape[:3]  # (M, T, V) before keeping two persons
        if not isinstance(score, np.ndarray) or score.dtype.kind != "f" or score.shape != stored:
            got = f"{score.dtype} {score.shape}" if isinstance(score, np.ndarray) else type(score).__name__
            raise ParseError(path, 0, f"{where}: keypoint_score must be a float {stored} array, got {got}")
        score = score[: kp.shape[0]]
        if not np.isfinite(score).all():
            raise ParseError(path, 0, f"{where}: non-finite keypoint_score values")
        present &= score.any(axis=2)
    out = np.empty_like(kp)
    out[..., 0] = (kp[..., 0] - w / 2) / (h / 2)
    out[..., 1] = (h / 2 - kp[..., 1]) / (h / 2)
    out[~present] = 0.0
    return out


def _keypoint(path: Path, k: int, ann: dict[str, Any], layout: Layout = NTU25) -> np.ndarray:
    kp = ann.get("keypoint")
    where = f"annotation {k} ({ann.get('frame_dir')!r})"
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or kp.dtype.kind != "f":
        what = f"{kp.dtype} array of shape {kp.shape}" if isinstance(kp, np.ndarray) else type(kp).__name__
        raise ParseError(path, 0, f"{where}: keypoint must be a float (M, T, V, C) array, got {what}")
    m, t, v, c = kp.shape
    if layout is COCO17 and kp.shape[2:] == (17, 2) and m > 2:
        kp, m = kp[:2], 2  # pyskl's FormatGCNInput(num_person=2)
    if not (1 <= m <= 2 and t >= 1 and v == layout.num_joints and c == layout.channels):
        hint = ("; 2D COCO-17 keypoints: set ingest.layout: coco17" if (v, c) == (17, 2) and layout is NTU25
                else "; 3D NTU keypoints: set ingest.layout: auto" if (v, c) == (25, 3) and layout is COCO17
                else "")
        raise ParseError(path, 0, f"{where}: keypoint shape {kp.shape}; only 1-2 persons × T × "
                         f"{layout.num_joints} joints × {layout.channels} (layout {layout.name}) is supported"
                         f"{hint}")
    if not np.isfinite(kp).all():
        raise ParseError(path, 0, f"{where}: non-finite keypoint values")
    total = ann.get("total_frames", t)
    if scalar_meta(total) != t:
        raise ParseError(path, 0, f"{where}: total_frames {total!r} but keypoint has {t} frames")
    if layout.channels == 2:
        kp = _image_2d(path, where, kp, ann)
    joints = np.zeros((t, 2, v, c), dtype=np.float32)
    joints[:, :m] = kp.transpose(1, 0, 2, 3)
    return joints


INDEX_COLUMNS = frozenset({"name", "label", "frames", "offset", ORIGINAL_LABEL})  # written by ingest


class PysklSource(Source):
    name = "pyskl"
    layout = "ntu25"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[Path]:
        self.layout = pyskl_layout(cfg).name  # type: ignore[misc]  # written to meta.json
        return [_input_file(root, "a pyskl annotation pickle", "ntu60_3danno.pkl")]

    def read(self, item: Path, cfg: IngestParams) -> ReadResult:
        annotations, lists = pyskl_annotations(item)
        benchmarks = pyskl_benchmarks(item, lists)
        clips: ReadResult = []
        labels: list[int] = []
        seen: set[str] = set()
        meta_keys: list[str] | None = None
        for k, ann in enumerate(annotations):
            name, label = ann.get("frame_dir"), scalar_meta(ann.get("label"))
            if not isinstance(name, str) or not name:
                raise ParseError(item, 0, f"annotation {k}: frame_dir must be a non-empty string")
            if name in seen:
                raise ParseError(item, 0, f"annotation {k}: frame_dir {name!r} appears twice")
            seen.add(name)
            if not isinstance(label, int):
                raise ParseError(item, 0, f"annotation {k} ({name!r}): label must be an integer >= 0, "
                                 f"got {ann.get('label')!r}")
            labels.append(check_label(label, item, 0, f"annotation {k} ({name!r}): label"))
            meta = {key: scalar_meta(value) for key, value in ann.items() if key not in PYSKL_RESERVED}
            meta = {key: value for key, value in meta.items() if value is not None}
            clash = sorted(key for key in meta if key in INDEX_COLUMNS or key.endswith("_train"))
            if clash:
                raise ParseError(item, 0, f"annotation {k} ({name!r}): key {clash[0]!r} is reserved "
                                 "(the index has a column of that name)")
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
            joints = _keypoint(item, k, ann, pyskl_layout(cfg))
            try:
                joints, _ = drop_zero_frames(joints, item, 0, f"annotation {k} ({name!r})")
            except ParseError as exc:
                clips.append(Rejected(exc.path, exc.line, exc.message))
                continue
            clips.append(Clip(name, label, joints, {key: meta[key] for key in meta_keys}, splits))
        if not annotations:
            raise ParseError(item, 0, "no annotations")
        remap = dense_labels(labels)
        if remap is not None:  # sparse ids: 0..K-1 in ascending id order, the stored id kept
            clips = [replace(c, label=remap[c.label], meta={**c.meta, ORIGINAL_LABEL: c.label})
                     if isinstance(c, Clip) else c for c in clips]
        return clips
