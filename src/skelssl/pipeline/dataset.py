"""Reading the stage artifacts back (the ingest and preprocess output contracts live here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import json

import numpy as np
import polars as pl
import torch

from skelssl.errors import SkelsslError
from skelssl.skeleton import LAYOUTS, Layout

INDEX = "index.parquet"
JOINTS = "joints.npy"
MOTION = "motion.npy"
META = "meta.json"  # source, layout, persons, splits (written by ingest, copied by preprocess)
SKIPPED = "skipped.parquet"


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise SkelsslError(f"{path}: {what} not found (run the stage that produces it first)")
    return path


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
        rows = torch.from_numpy(np.flatnonzero(flags == train))
        labels = torch.from_numpy(self.index["label"].to_numpy().astype(np.int64))
        if len(rows) == 0:
            part = "training" if train else "test"
            raise SkelsslError(f"base.split: the {split} {part} set is empty for this dataset")
        return self.x[rows], self.motion[rows], labels[rows]


def load_processed(folder: Path) -> Processed:
    index = pl.read_parquet(require(folder / INDEX, "processed index"))
    x = torch.from_numpy(np.load(require(folder / JOINTS, "processed joints")))
    motion = torch.from_numpy(np.load(require(folder / MOTION, "processed motion")))
    return Processed(index, x, motion, read_layout(folder))


def read_meta(folder: Path) -> dict:
    return json.loads(require(folder / META, "dataset meta").read_text())


def read_layout(folder: Path) -> Layout:
    """The skeleton layout an ingest/preprocess artifact was written in."""
    name = read_meta(folder)["layout"]
    if name not in LAYOUTS:
        raise SkelsslError(f"{folder / META}: unknown skeleton layout {name!r} (known: {sorted(LAYOUTS)})")
    return LAYOUTS[name]
