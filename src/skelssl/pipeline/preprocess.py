"""Stage `preprocess`: centre, optionally align the view, crop/resize the valid frames to T,
and compute per-frame joint motion magnitude (the prior of the motion-aware masks), with the
numba kernels over all samples in parallel.

Outputs: `joints.npy` (N, M, T, V, C), `motion.npy` (N, M, T, V), `index.parquet` (the ingest
index without the joints offset).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl

from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import SkelsslError
from skelssl.io import atomic_dir
from skelssl.kernels import preprocess_batch
from skelssl.pipeline.dataset import INDEX, JOINTS, META, MOTION, read_layout, require


def run(params: Params, ingested_dir: Path, out_dir: Path) -> None:
    cfg = params.preprocess
    index = pl.read_parquet(require(ingested_dir / INDEX, "ingested index"))
    joints = np.load(require(ingested_dir / JOINTS, "ingested joints"))
    offsets = np.concatenate([index["offset"].to_numpy(), [len(joints)]]).astype(np.int64)
    layout = read_layout(ingested_dir)
    if cfg.align_view and layout.hips is None:
        raise SkelsslError(f"preprocess.align_view: layout {layout.name} has no hip joints to align")
    left, right = layout.hips or (-1, -1)
    x, motion = preprocess_batch(
        np.ascontiguousarray(joints, dtype=np.float32), offsets, cfg.frames, cfg.crop_ratio,
        layout.center if cfg.center else -1, cfg.align_view, left, right,
    )
    with atomic_dir(out_dir) as tmp:
        shutil.copyfile(ingested_dir / META, tmp / META)
        np.save(tmp / JOINTS, x)
        np.save(tmp / MOTION, motion)
        index.drop("offset").write_parquet(tmp / INDEX)
    log.info("preprocess: %d samples → %s", len(index), tuple(x.shape))
