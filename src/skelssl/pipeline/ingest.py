"""Stage `ingest`: read a dataset in its original form through its source (`ingest.source`) and
write one sample index + one joints array.

Outputs (one folder, written atomically):
- `index.parquet`: one row per clip: name, label (0-based), frames, offset (first row in
  joints.npy), the source's metadata columns (NTU: setup, camera, performer, replication, action,
  bodies, actors, removed_bodies) and the split membership flags (`<split>_train`);
- `joints.npy`: float32 (total frames, M, V, C), the clips one after another;
- `meta.json`: source, layout, persons, the splits available;
- `skipped.parquet`: file, line, error for every item skipped with `on_error: skip`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skelssl.config import Params
from skelssl.console import log, track
from skelssl.data.sources import SOURCES
from skelssl.errors import ParseError, SkelsslError
from skelssl.io import atomic_dir, write_json
from skelssl.pipeline.dataset import INDEX, JOINTS, META, SKIPPED


def run(params: Params, input_dir: Path, out_dir: Path) -> None:
    cfg = params.ingest
    source = SOURCES[cfg.source]()
    items = source.items(input_dir, cfg)
    rows, arrays, skipped = [], [], []
    offset = 0
    for item in track(items, "ingest"):
        try:
            clips = source.read(item, cfg)
        except ParseError as exc:
            if cfg.on_error == "fail":
                raise
            skipped.append({"file": str(exc.path), "line": exc.line, "error": exc.message})
            continue
        for clip in clips:
            rows.append({"name": clip.name, "label": clip.label, "frames": len(clip.joints),
                         "offset": offset, **clip.meta, **clip.splits})
            arrays.append(clip.joints.astype(np.float32, copy=False))
            offset += len(clip.joints)
    if not rows:
        raise SkelsslError(f"ingest: every item in {input_dir} was skipped as malformed")
    splits = sorted(key.removesuffix("_train") for key in rows[0] if key.endswith("_train"))
    with atomic_dir(out_dir) as tmp:
        pl.DataFrame(rows).write_parquet(tmp / INDEX)
        np.save(tmp / JOINTS, np.concatenate(arrays))
        pl.DataFrame(skipped, schema={"file": pl.String, "line": pl.Int64, "error": pl.String}
                     ).write_parquet(tmp / SKIPPED)
        write_json(tmp / META, {"source": source.name, "layout": source.layout,
                                "persons": source.persons, "splits": splits})
    log.info("ingest: %d clips, %d frames, %d skipped", len(rows), offset, len(skipped))
    for item in skipped:
        log.warning("skipped %s:%s: %s", item["file"], item["line"], item["error"])
