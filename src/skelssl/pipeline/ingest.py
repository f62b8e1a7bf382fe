"""Stage `ingest`: parse NTU `.skeleton` files, denoise bodies, write a sample index + joints.

Outputs (one folder, written atomically):
- `index.parquet`: one row per sample: name, setup, camera, performer, replication, action,
  label (= action − 1), frames, offset (first row in joints.npy), bodies (distinct bodyIDs),
  actors, removed_bodies, and the split membership flags (xsub_train, xview_train, ...);
- `joints.npy`: float32 (total frames, 2, 25, 3), the samples one after another;
- `skipped.parquet`: file, line, error for every file skipped with `on_error: skip`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skelssl.config import IngestParams, Params
from skelssl.console import log, track
from skelssl.data.denoise import denoise
from skelssl.data.ntu import parse_sample_name, read_skeleton
from skelssl.data.splits import split_membership
from skelssl.errors import ParseError, SkelsslError
from skelssl.io import atomic_dir
from skelssl.pipeline.dataset import INDEX, JOINTS, SKIPPED


def list_skeleton_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SkelsslError(
            f"ingest.input: folder {folder} not found; put NTU .skeleton files there "
            "(e.g. `dvc pull` or unpack nturgbd_skeletons_s001_to_s017.zip) or point ingest.input elsewhere"
        )
    files = sorted(folder.glob("*.skeleton"))
    if not files:
        raise SkelsslError(f"ingest.input: no .skeleton files in {folder}")
    return files


def ingest_file(path: Path, cfg: IngestParams) -> tuple[dict, np.ndarray]:
    try:
        sample = parse_sample_name(path.name)
    except ValueError as exc:
        raise ParseError(path, 0, str(exc)) from None
    result = denoise(read_skeleton(path), cfg.denoise)
    joints = result.joints
    if cfg.second_person == "copy" and result.num_actors == 1:
        joints = joints.copy()
        joints[:, 1] = joints[:, 0]
    row = {
        "name": sample.name, "setup": sample.setup, "camera": sample.camera,
        "performer": sample.performer, "replication": sample.replication,
        "action": sample.action, "label": sample.action - 1, "frames": len(joints),
        "bodies": result.num_bodies, "actors": result.num_actors,
        "removed_bodies": result.removed_bodies, **split_membership(sample),
    }
    return row, joints


def run(params: Params, input_dir: Path, out_dir: Path) -> None:
    cfg = params.ingest
    files = list_skeleton_files(input_dir)
    rows, arrays, skipped = [], [], []
    offset = 0
    for path in track(files, "ingest"):
        try:
            row, joints = ingest_file(path, cfg)
        except ParseError as exc:
            if cfg.on_error == "fail":
                raise
            skipped.append({"file": str(path), "line": exc.line, "error": exc.message})
            continue
        rows.append({**row, "offset": offset})
        arrays.append(joints.astype(np.float32, copy=False))
        offset += len(joints)
    if not rows:
        raise SkelsslError(f"ingest: every file in {input_dir} was skipped as malformed")
    with atomic_dir(out_dir) as tmp:
        pl.DataFrame(rows).write_parquet(tmp / INDEX)
        np.save(tmp / JOINTS, np.concatenate(arrays))
        pl.DataFrame(skipped, schema={"file": pl.String, "line": pl.Int64, "error": pl.String}
                     ).write_parquet(tmp / SKIPPED)
    log.info("ingest: %d samples, %d frames, %d skipped", len(rows), offset, len(skipped))
    for item in skipped:
        log.warning("skipped %s:%s: %s", item["file"], item["line"], item["error"])
