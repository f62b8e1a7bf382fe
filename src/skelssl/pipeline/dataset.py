"""Reading the stage artifacts back (the ingest and preprocess output contracts live here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import json

import numpy as np
import polars as pl

from skelssl.errors import SkelsslError
from skelssl.skeleton import LAYOUTS, Layout

if TYPE_CHECKING:  # torch is imported where tensors are made: ingest and preprocess start without it
    import torch

INDEX = "index.parquet"
JOINTS = "joints.npy"
MOTION = "motion.npy"
META = "meta.json"  # source, layout, persons, splits (written by ingest, copied by preprocess)
SKIPPED = "skipped.parquet"


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise SkelsslError(f"{path}: {what} not found (run the stage that produces it first)")
    if not path.is_file():
        raise SkelsslError(f"{path}: {what} is not a file")
    return path


# index columns every artifact has, and the integer ones among them (checked when read back)
INDEX_COLUMNS: tuple[str, ...] = ("name", "label", "frames")
INTEGER_COLUMNS: tuple[str, ...] = ("label", "frames", "offset")


def read_index(path: Path, what: str, columns: tuple[str, ...] = INDEX_COLUMNS) -> pl.DataFrame:
    """An artifact's index.parquet; SkelsslError naming the file when it is not a parquet file, lacks
    one of `columns`, or holds an integer column (label, frames, offset) with nulls, another type,
    or (label, frames) negative values."""
    try:
        with open(require(path, what), "rb") as handle:  # a handle: polars would glob `[`, expand `~`
            index = pl.read_parquet(handle)
    except SkelsslError:
        raise
    except Exception as exc:  # polars raises several types (ComputeError, OSError, ...) on bad bytes
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SkelsslError(f"{path}: not a readable {what} ({reason})") from None
    for column in columns:
        if column not in index.columns:
            raise SkelsslError(f"{path}: {what} has no {column!r} column (not written by this version's "
                               "ingest/preprocess; run that stage again)")
    for column in (c for c in INTEGER_COLUMNS if c in index.columns):
        series = index[column]
        if not series.dtype.is_integer() or series.null_count():
            raise SkelsslError(f"{path}: {what} column {column!r} must hold integers without nulls, "
                               f"got {series.dtype}")
        if column != "offset" and index.height and series.min() < 0:  # type: ignore[operator]
            raise SkelsslError(f"{path}: {what} column {column!r} has negative values")
    if "label" in index.columns:
        index = index.with_columns(pl.col("label").cast(pl.Int64))
    return index


@dataclass(frozen=True)
class Processed:
    index: pl.DataFrame
    x: torch.Tensor  # (N, M, T, V, C) float32
    motion: torch.Tensor  # (N, M, T, V) per-frame joint motion magnitude
    layout: Layout

    @property
    def num_classes(self) -> int:
        return int(self.index["label"].max()) + 1

    def split(self, split: str, train: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, motion, labels) of the training or test part of an NTU benchmark split."""
        if f"{split}_train" not in self.index.columns:
            known = sorted(c.removesuffix("_train") for c in self.index.columns if c.endswith("_train"))
            raise SkelsslError(f"base.split: {split!r} is not a split of this dataset (it has {known})")
        flags = self.index[f"{split}_train"].to_numpy()
        import torch

        rows = torch.from_numpy(np.flatnonzero(flags == train))
        labels = torch.from_numpy(self.index["label"].to_numpy().astype(np.int64))
        if len(rows) == 0:
            part = "training" if train else "test"
            raise SkelsslError(f"base.split: the {split} {part} set is empty for this dataset")
        return self.x[rows], self.motion[rows], labels[rows]

    def valid_frames(self, split: str, train: bool) -> torch.Tensor | None:
        """(N,) valid-frame counts of the original clips of that split part (the index's `frames`:
        the ingested clips hold only non-zero frames), in `split`'s order; None without the column."""
        import torch

        if "frames" not in self.index.columns:
            return None
        flags = self.index[f"{split}_train"].to_numpy()
        frames = self.index["frames"].to_numpy().astype(np.int64)
        return torch.from_numpy(frames[np.flatnonzero(flags == train)])


def _load_array(path: Path, what: str) -> np.ndarray:
    """A .npy float array as float32; SkelsslError naming the file when it is unreadable or not float."""
    try:
        array = np.load(require(path, what), allow_pickle=False)
    except SkelsslError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise SkelsslError(f"{path}: not a readable {what} .npy array ({exc})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise SkelsslError(f"{path}: {what} must be a float array, got {getattr(array, 'dtype', type(array))}")
    return array.astype(np.float32, copy=False)


def load_processed(folder: Path) -> Processed:
    index = read_index(folder / INDEX, "processed index", ("label",))
    x = _load_array(folder / JOINTS, "processed joints")
    motion = _load_array(folder / MOTION, "processed motion")
    if x.ndim != 5 or motion.shape != x.shape[:4] or len(x) != index.height:
        raise SkelsslError(f"{folder}: joints {x.shape}, motion {motion.shape} and the {index.height} "
                           "index rows do not match (run preprocess again)")
    import torch

    return Processed(index, torch.from_numpy(x), torch.from_numpy(motion), read_layout(folder))


def read_meta(folder: Path) -> dict:
    """meta.json of an artifact; SkelsslError naming the file when it is not a JSON object."""
    path = require(folder / META, "dataset meta")
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SkelsslError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise SkelsslError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(meta, dict):
        raise SkelsslError(f"{path}: expected a JSON object (source, layout, persons, splits), "
                           f"got {type(meta).__name__}")
    return meta


def read_layout(folder: Path) -> Layout:
    """The skeleton layout an ingest/preprocess artifact was written in."""
    name = read_meta(folder).get("layout")
    if not isinstance(name, str) or name not in LAYOUTS:
        raise SkelsslError(f"{folder / META}: unknown skeleton layout {name!r} (known: {sorted(LAYOUTS)})")
    return LAYOUTS[name]


def check_encoder_fits(checkpoint: dict, encoder_path: Path, data: Processed, data_name: str) -> None:
    """Refuse, with one line, an encoder checkpoint that cannot read `data`: another layout or
    number of coordinates, or, for a transformer (its positional embeddings are per frame patch),
    another number of frames. `data_name` says where the data came from (its folder)."""
    spec = checkpoint["backbone"]
    _, _, frames, joints, channels = data.x.shape
    layout, spec_channels = spec.get("layout"), spec.get("channels", data.layout.channels)
    mismatch = []
    if layout != data.layout.name or spec_channels != channels:
        mismatch.append(f"the {layout} layout with {spec_channels} coordinates (the data: "
                        f"{data.layout.name}, {channels})")
    if spec["config"].get("name") == "transformer" and spec.get("frames") != frames:
        mismatch.append(f"clips of {spec.get('frames')} frames (the data: {frames}; set "
                        f"preprocess.frames: {spec.get('frames')} or pretrain on this data)")
    if mismatch:
        raise SkelsslError(f"{encoder_path}: this encoder does not fit {data_name}: it reads "
                           + " and ".join(mismatch))


def load_encoder_for(encoder_path: Path, data: Processed, data_name: str) -> dict:
    """The checkpoint at `encoder_path` (`skelssl.io.load_encoder`), checked to fit `data`
    (`check_encoder_fits`)."""
    from skelssl.io import load_encoder

    checkpoint = load_encoder(encoder_path)
    check_encoder_fits(checkpoint, encoder_path, data, data_name)
    return checkpoint
