"""Stage `preprocess`: centre, optionally align the view, crop/resize the valid frames to T,
and compute per-frame joint motion magnitude (the prior of the motion-aware masks), with the
numba kernels over all samples in parallel.

Outputs: `joints.npy` (N, M, T, V, C), `motion.npy` (N, M, T, V), `index.parquet` (the ingest
index without the joints offset).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skelssl.config import Params
from skelssl.console import log
from skelssl.io import atomic_dir
from skelssl.kernels import preprocess_batch
from skelssl.pipeline.dataset import INDEX, JOINTS, MOTION, require
from skelssl.skeleton import NTU25


def run(params: Params, ingested_dir: Path, out_dir: Path) -> None:
    cfg = params.preprocess
    index = pl.read_parquet(require(ingested_dir / INDEX, "ingested index"))
    joints = np.load(require(ingested_dir / JOINTS, "ingested joints"))
    offsets = np.concatenate([index["offset"].to_numpy(), [len(joints)]]).astype(np.int64)
    left, right = NTU25.joint_names.index("hip_left"), NTU25.joint_names.index("hip_right")
    x, motion = preprocess_batch(
        np.ascontiguousarray(joints, dtype=np.float32), offsets, cfg.frames, cfg.crop_ratio,
        NTU25.center if cfg.center else -1, cfg.align_view, left, right,
    )
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / JOINTS, x)
        np.save(tmp / MOTION, motion)
        index.drop("offset").write_parquet(tmp / INDEX)
    log.info("preprocess: %d samples → %s", len(index), tuple(x.shape))
