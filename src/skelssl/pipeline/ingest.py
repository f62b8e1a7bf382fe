"""Stage `ingest`: read a dataset in its original form through its source (`ingest.source`) and
write one sample index + one joints array.

Outputs (one folder, written atomically):
- `index.parquet`: one row per clip: name, label (0-based), frames, offset (first row in
  joints.npy), the source's metadata columns (NTU: setup, camera, performer, replication, action,
  bodies, actors, removed_bodies) and the split membership flags (`<split>_train`);
- `joints.npy`: float32 (total frames, M, V, C), the clips one after another;
- `meta.json`: source, layout, persons, the splits available, and under `ingest` the reading options
  that shape the clips (`reading_options`: what a trained model's file records so `skelssl predict`
  reads new data the same way);
- `skipped.parquet`: file, line, error for every item skipped with `on_error: skip`, and for every
  clip a multi-clip item could not give (a `Rejected` entry, e.g. every frame zero).

Labels (skelssl.data.sources.base): every clip's label is an integer 0 <= label < 2**31, checked by
the sources with file + line; the index `label` column is always Int64. Where an open-format source
(generic, pyskl) renumbered a sparse label set to 0..K-1, the label it read is in an Int64
`original_label` column. Every clip's frames are non-zero (zero frames removed by the sources).

Streaming: items are read by `ingest.workers` workers (0 = every core this process may use) in
batches of `ITEMS_PER_TASK`, at most `TASKS_PER_WORKER` batches per worker in flight, and the
results are consumed in item order, so the output is byte-identical to a serial run and memory
holds only the clips in flight, never the dataset. Clips go straight into `joints.npy` (a
`NpyWriter`: the header gets the final row count at the end); only the index rows are kept, in
polars frames of `ROWS_PER_PART` rows (about 100 bytes a clip). With `on_error: fail` the first
malformed item in item order stops the stage, as in a serial run.

Workers are threads for the sources in `THREADED` (NTU: its reader and denoiser are numba
`nogil` kernels, so threads run in parallel without copying clips between processes; measured
about twice the throughput of forked processes on 2 cores, docs/benchmarks.md) and processes for
the others (pure Python/NumPy readers hold the GIL).

*Unverified choices*: worker processes are forked on Linux (they inherit the imported modules;
other systems spawn them), the first item is read in this process before any worker starts (it
compiles/loads numba code once for all of them and fails fast), and the batch sizes are set for
NTU-sized files (~0.1-0.4 MB).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from skelssl.config import IngestParams, Params
from skelssl.console import log, track
from skelssl.data.sources import SOURCES, Clip, Source
from skelssl.data.sources.base import LABEL_LIMIT, ORIGINAL_LABEL, Rejected
from skelssl.errors import ParseError, SkelsslError
from skelssl.io import write_json
from skelssl.outputs import atomic_dir, check_dir_output
from skelssl.pipeline.dataset import INDEX, JOINTS, META, SKIPPED
from skelssl.pipeline.npystream import NpyWriter

ITEMS_PER_TASK = 8
TASKS_PER_WORKER = 4
ROWS_PER_PART = 8192
# sources whose `read` spends its time in GIL-free code (numba `nogil` kernels, file reads): read
# by threads, which share this process's memory; the others by worker processes
THREADED: frozenset[str] = frozenset({"ntu"})

# what one item gives: its clips, or (file, line, message) of the ParseError it raised
Outcome = tuple[list[Clip] | None, tuple[str, int, str] | None]


def resolve_workers(workers: int) -> int:
    """`ingest.workers`, with 0 meaning every core this process may run on."""
    if workers:
        return workers
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _read_items(source: Source, cfg: IngestParams, items: Sequence[Any]) -> list[Outcome]:
    """Read items; a ParseError becomes data (exceptions with required arguments do not pickle)."""
    out: list[Outcome] = []
    for item in items:
        try:
            out.append((source.read(item, cfg), None))
        except ParseError as exc:
            out.append((None, (str(exc.path), exc.line, exc.message)))
    return out


def _executor(source: Source, workers: int) -> Executor:
    """Threads for sources whose reading runs in GIL-free code, else forked (spawned) processes."""
    if source.name in THREADED:
        return ThreadPoolExecutor(workers, thread_name_prefix="ingest")
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def _outcomes(source: Source, cfg: IngestParams, items: Sequence[Any], workers: int) -> Iterator[Outcome]:
    """The outcome of every item, in item order, read by up to `workers` threads or processes."""
    if not items:
        return
    yield from _read_items(source, cfg, items[:1])  # compiles/loads the reader before any worker
    rest = items[1:]
    tasks = [rest[k : k + ITEMS_PER_TASK] for k in range(0, len(rest), ITEMS_PER_TASK)]
    workers = min(workers, len(tasks))
    if workers <= 1:
        for task in tasks:
            yield from _read_items(source, cfg, task)
        return
    pending: deque[Future[list[Outcome]]] = deque()
    executor = _executor(source, workers)
    try:
        for task in tasks:
            pending.append(executor.submit(_read_items, source, cfg, task))
            if len(pending) >= workers * TASKS_PER_WORKER:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:  # also on an error or an early stop: drop what has not started
        executor.shutdown(wait=True, cancel_futures=True)


def _check_label(clip: Clip) -> None:
    """The sources check labels with file + line (skelssl.data.sources.base); this guard names the
    clip if one ever gave a label outside 0..LABEL_LIMIT-1, which later stages could not hold."""
    label = clip.label
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label < LABEL_LIMIT:
        raise SkelsslError(f"ingest: clip {clip.name}: label {label!r} is not an integer in 0..2**31-1")


def reading_options(cfg: IngestParams) -> dict[str, Any]:
    """The ingest options that shape the clips of `cfg.source` (second person, NTU denoising, and the
    PKU-MMD / CTR-GCN npz options for those sources), JSON-able; not `input`, `workers`, `on_error`."""
    options: dict[str, Any] = {"second_person": cfg.second_person,
                               "denoise": cfg.denoise.model_dump(mode="json")}
    if cfg.source == "pku_mmd":
        options["pku_mmd"] = cfg.pku_mmd.model_dump(mode="json")
    if cfg.source == "ctrgcn_npz":
        options["npz"] = cfg.npz.model_dump(mode="json")
    return options


def run(params: Params, input_dir: Path, out_dir: Path) -> None:
    check_dir_output(out_dir, "ingest", inputs=(input_dir,))
    cfg = params.ingest
    source = SOURCES[cfg.source]()
    items = list(source.items(input_dir, cfg))
    workers = resolve_workers(cfg.workers)
    parts: list[pl.DataFrame] = []
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    offset = 0
    with atomic_dir(out_dir, "ingest", inputs=(input_dir,)) as tmp, ExitStack() as stack:
        outcomes = stack.enter_context(closing(_outcomes(source, cfg, items, workers)))
        writer: NpyWriter | None = None
        for result, error in track(outcomes, "ingest", total=len(items)):
            if error is not None:
                if cfg.on_error == "fail":
                    raise ParseError(*error)
                skipped.append({"file": error[0], "line": error[1], "error": error[2]})
                continue
            for clip in result or ():
                if isinstance(clip, Rejected):  # one clip of a multi-clip item, e.g. all frames zero
                    if cfg.on_error == "fail":
                        raise ParseError(clip.path, clip.line, clip.message)
                    skipped.append({"file": str(clip.path), "line": clip.line, "error": clip.message})
                    continue
                _check_label(clip)
                joints = clip.joints.astype(np.float32, copy=False)
                if writer is None:
                    writer = stack.enter_context(NpyWriter(tmp / JOINTS, np.float32, joints.shape[1:]))
                if joints.shape[1:] != writer.row_shape:
                    raise SkelsslError(f"ingest: clip {clip.name} has joints of shape "
                                       f"{joints.shape[1:]}, the clips before it {writer.row_shape}")
                writer.append(joints)
                rows.append({"name": clip.name, "label": clip.label, "frames": len(joints),
                             "offset": offset, **clip.meta, **clip.splits})
                offset += len(joints)
                if len(rows) == ROWS_PER_PART:
                    parts.append(pl.DataFrame(rows))
                    rows = []
        if writer is None:
            raise SkelsslError(f"ingest: every item in {input_dir} was skipped as malformed")
        writer.close()
        if rows:
            parts.append(pl.DataFrame(rows))
        index = pl.concat(parts, how="vertical_relaxed").rechunk()  # parts infer types alone
        index = index.with_columns(pl.col(c).cast(pl.Int64) for c in ("label", ORIGINAL_LABEL)
                                   if c in index.columns)  # labels < 2**31: always Int64
        splits = sorted(key.removesuffix("_train") for key in index.columns if key.endswith("_train"))
        with open(tmp / INDEX, "wb") as handle:  # handles: polars would expand `~` in a path
            index.write_parquet(handle)
        with open(tmp / SKIPPED, "wb") as handle:
            pl.DataFrame(skipped, schema={"file": pl.String, "line": pl.Int64, "error": pl.String}
                         ).write_parquet(handle)
        write_json(tmp / META, {"source": source.name, "layout": source.layout,
                                "persons": source.persons, "splits": splits,
                                "ingest": reading_options(cfg)})
    log.info("ingest: %d clips, %d frames, %d skipped", index.height, offset, len(skipped))
    for item in skipped:
        log.warning("skipped %s:%s: %s", item["file"], item["line"], item["error"])
