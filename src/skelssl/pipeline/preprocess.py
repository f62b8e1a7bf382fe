"""Stage `preprocess`: centre, optionally align the view and normalise the scale, crop/resize the valid frames to T,
and compute per-frame joint motion magnitude (the prior of the motion-aware masks), with the
numba kernels over all samples in parallel.

Outputs: `joints.npy` (N, M, T, V, C), `motion.npy` (N, M, T, V), `index.parquet` (the ingest
index without the joints offset), `meta.json` (the ingest meta plus `preprocess`: these params, which
a trained model's file records so `skelssl predict` preprocesses new data the same way).

Streaming: consecutive samples are processed in chunks of at most `CHUNK_FRAMES` input frames
(one sample per chunk at least), read from the ingested `joints.npy` with file reads and appended
to the outputs by `NpyWriter`, so memory holds one chunk whatever the dataset size. Every sample
is processed independently, so the outputs do not depend on the chunk size (tested).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import SkelsslError
from skelssl.outputs import atomic_dir, check_dir_output
from skelssl.kernels import preprocess_batch
from skelssl.io import write_json
from skelssl.pipeline.dataset import INDEX, JOINTS, META, MOTION, read_index, read_layout, read_meta, require
from skelssl.pipeline.npystream import NpyReader, NpyWriter
from skelssl.skeleton import Layout

CHUNK_FRAMES = 1 << 16  # input frames per chunk: 39 MB of NTU joints (2 x 25 x 3 float32)


def chunks(offsets: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """Sample ranges [i, j) of consecutive samples holding <= max_frames frames (>= 1 sample)."""
    out, i, n = [], 0, len(offsets) - 1
    while i < n:
        j = int(np.searchsorted(offsets, offsets[i] + max_frames, side="right")) - 1
        j = min(max(j, i + 1), n)
        out.append((i, j))
        i = j
    return out


def view_alignment(setting: bool | str, layout: Layout) -> bool:
    """Whether `preprocess.align_view` = `setting` rotates clips of `layout`: "auto" where the layout
    can be aligned (3D, with hips), True always (SkelsslError where it cannot), False never."""
    possible = layout.hips is not None and layout.channels >= 3
    if setting == "auto":
        return possible
    if setting and layout.hips is None:
        raise SkelsslError(f"preprocess.align_view: layout {layout.name} has no hip joints to align")
    if setting and layout.channels < 3:
        raise SkelsslError(f"preprocess.align_view: layout {layout.name} is 2D; view alignment needs x, y, z")
    return bool(setting)


def run(params: Params, ingested_dir: Path, out_dir: Path) -> None:
    run_chunked(params, ingested_dir, out_dir, CHUNK_FRAMES)


def run_chunked(params: Params, ingested_dir: Path, out_dir: Path, chunk_frames: int) -> None:
    """`run` with chunks of at most `chunk_frames` input frames (the outputs do not depend on it)."""
    check_dir_output(out_dir, "preprocess", inputs=(ingested_dir,))
    cfg = params.preprocess
    index = read_index(ingested_dir / INDEX, "ingested index", ("name", "label", "frames", "offset"))
    layout = read_layout(ingested_dir)
    align = view_alignment(cfg.align_view, layout)
    left, right = layout.hips or (-1, -1)
    with NpyReader(require(ingested_dir / JOINTS, "ingested joints")) as joints:
        offsets = np.concatenate([index["offset"].to_numpy(), [len(joints)]]).astype(np.int64)
        if len(joints.shape) != 4 or np.any(np.diff(offsets) < 0) or offsets[0] != 0:
            raise SkelsslError(f"{ingested_dir}: index offsets do not match joints.npy {joints.shape}")
        persons, num_joints, channels = joints.shape[1:]
        with atomic_dir(out_dir, "preprocess", inputs=(ingested_dir,)) as tmp:
            write_json(tmp / META, {**read_meta(ingested_dir), "preprocess": cfg.model_dump(mode="json")})
            with (NpyWriter(tmp / JOINTS, np.float32, (persons, cfg.frames, num_joints, channels)) as xs,
                  NpyWriter(tmp / MOTION, np.float32, (persons, cfg.frames, num_joints)) as motions):
                parts = chunks(offsets, chunk_frames)
                longest = max((int(offsets[j] - offsets[i]) for i, j in parts), default=0)
                buffer = np.empty((longest, *joints.shape[1:]), dtype=joints.dtype)  # reused
                for i, j in parts:
                    start, stop = int(offsets[i]), int(offsets[j])
                    x, motion = preprocess_batch(
                        np.ascontiguousarray(joints.read(start, stop, buffer), dtype=np.float32),
                        offsets[i : j + 1] - start, cfg.frames, cfg.crop_ratio,
                        layout.center if cfg.center else -1, align, left, right, cfg.scale,
                    )
                    xs.append(x)
                    motions.append(motion)
            with open(tmp / INDEX, "wb") as handle:  # a handle: polars would expand `~` in a path
                index.drop("offset").write_parquet(handle)
    log.info("preprocess: %d samples → %s", len(index), (len(index), *xs.row_shape))
