"""Streaming ingest/preprocess: parallel == serial and chunked == unchunked, byte for byte, and the
same bytes as the in-memory implementation (np.concatenate + np.save) they replace."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from skelssl.config import Params
from skelssl.data.ntu_format import BodyFrame, write_skeleton
from skelssl.data.sources import SOURCES
from skelssl.data.sources.ntu import NTUSource
from skelssl.errors import ParseError, SkelsslError
from skelssl.kernels import preprocess_batch
from skelssl.pipeline import ingest, preprocess
from skelssl.pipeline.npystream import NpyReader, NpyWriter

from helpers import default_params

OUTPUTS = ("index.parquet", "joints.npy", "meta.json", "skipped.parquet")


def names(count: int) -> list[str]:
    return [f"S001C00{1 + k % 3}P0{10 + k // 3:02d}R001A00{1 + k % 9}" for k in range(count)]


def write_dataset(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, name in enumerate(names(count)):
        frames = []
        for _ in range(int(rng.integers(12, 30))):
            bodies = []
            for body_id in (1, 2) if k % 4 == 0 else (1,):  # every 4th sample: two actors
                xyz = rng.normal(0, 0.3, (25, 3)) + [body_id - 1.0, 0.0, 3.0]
                xyz[:, 1] = np.linspace(-0.8, 0.8, 25)
                bodies.append(BodyFrame(body_id, xyz, np.full(25, 2)))
            frames.append(bodies)
        paths.append(folder / f"{name}.skeleton")
        write_skeleton(paths[-1], frames, newline="\r\n" if k % 2 else "\n")
    return paths


def params_with(**ingest_update) -> Params:
    params = default_params()
    return params.model_copy(update={"ingest": params.ingest.model_copy(update=ingest_update)})


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


@pytest.fixture
def readers(tmp_path, monkeypatch):
    """Records (process id, thread id) of the reader of each item (forked workers inherit it)."""
    log = tmp_path / "readers"
    log.mkdir()
    original = NTUSource.read

    def read(self, item, cfg):
        (log / f"{item.name}.{os.getpid()}.{threading.get_ident()}").touch()
        return original(self, item, cfg)

    monkeypatch.setattr(NTUSource, "read", read)

    def seen() -> tuple[set[str], set[str]]:
        marks = [p.name.split(".")[-2:] for p in log.iterdir()]
        return {pid for pid, _ in marks}, {f"{pid}.{tid}" for pid, tid in marks}

    return seen


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_parallel_ingest_is_byte_identical_to_serial(tmp_path, readers, monkeypatch, executor):
    raw = tmp_path / "raw"
    write_dataset(raw, 30)
    ingest.run(params_with(workers=1), raw, tmp_path / "serial")
    me = f"{os.getpid()}.{threading.get_ident()}"
    assert readers() == ({str(os.getpid())}, {me})
    (tmp_path / "readers").rename(tmp_path / "serial-readers")
    (tmp_path / "readers").mkdir()
    if executor == "processes":
        monkeypatch.setattr(ingest, "THREADED", frozenset())
    assert ("ntu" in ingest.THREADED) == (executor == "threads")
    monkeypatch.setattr(ingest, "ITEMS_PER_TASK", 3)  # 10 tasks for the 29 items after the first
    monkeypatch.setattr(ingest, "TASKS_PER_WORKER", 1)
    ingest.run(params_with(workers=2), raw, tmp_path / "parallel")
    pids, threads = readers()
    if executor == "processes":
        assert len(pids) == 3  # this process (first item) and two workers
    else:
        assert pids == {str(os.getpid())} and me in threads and 2 <= len(threads) <= 3
    assert outputs(tmp_path / "parallel") == outputs(tmp_path / "serial")
    index = pl.read_parquet(tmp_path / "parallel/index.parquet")
    assert index["name"].to_list() == sorted(names(30)) and index.height == 30


def test_ingest_writes_the_bytes_of_the_in_memory_version(tmp_path):
    raw = tmp_path / "raw"
    write_dataset(raw, 12)
    params = params_with(workers=2)
    ingest.run(params, raw, tmp_path / "out")
    items = NTUSource().items(raw, params.ingest)
    clips = [clip for path in items for clip in NTUSource().read(path, params.ingest)]
    rows, offset = [], 0
    for clip in clips:
        rows.append({"name": clip.name, "label": clip.label, "frames": len(clip.joints),
                     "offset": offset, **clip.meta, **clip.splits})
        offset += len(clip.joints)
    saved = io.BytesIO()
    np.save(saved, np.concatenate([c.joints.astype(np.float32) for c in clips]))
    assert (tmp_path / "out/joints.npy").read_bytes() == saved.getvalue()
    expected = tmp_path / "expected.parquet"
    pl.DataFrame(rows).write_parquet(expected)
    assert (tmp_path / "out/index.parquet").read_bytes() == expected.read_bytes()


def test_index_parts_do_not_change_the_index(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    write_dataset(raw, 10)
    ingest.run(params_with(workers=1), raw, tmp_path / "one")
    monkeypatch.setattr(ingest, "ROWS_PER_PART", 3)
    ingest.run(params_with(workers=1), raw, tmp_path / "parts")
    assert outputs(tmp_path / "parts") == outputs(tmp_path / "one")


def corrupt(path: Path, line: int) -> None:
    rows = path.read_bytes().split(b"\n")
    rows[line - 1] = b"0.1 bad 0.3 1 1 1 1 1 0 0 0 2"
    path.write_bytes(b"\n".join(rows))


@pytest.mark.parametrize("threaded", [True, False])
def test_parallel_fail_names_the_first_bad_item_and_writes_nothing(tmp_path, monkeypatch, threaded):
    if not threaded:
        monkeypatch.setattr(ingest, "THREADED", frozenset())
    raw = tmp_path / "raw"
    paths = sorted(write_dataset(raw, 30))
    corrupt(paths[20], 9)
    corrupt(paths[7], 12)
    monkeypatch.setattr(ingest, "ITEMS_PER_TASK", 2)
    with pytest.raises(ParseError) as info:
        ingest.run(params_with(workers=2), raw, tmp_path / "out")
    assert (info.value.path, info.value.line) == (paths[7], 12)
    assert "non-numeric coordinate 'bad'" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no output, no temp folder


@pytest.mark.parametrize("threaded", [True, False])
def test_parallel_skip_lists_bad_items_in_order(tmp_path, monkeypatch, threaded):
    if not threaded:
        monkeypatch.setattr(ingest, "THREADED", frozenset())
    raw = tmp_path / "raw"
    paths = sorted(write_dataset(raw, 30))
    corrupt(paths[20], 9)
    corrupt(paths[7], 12)
    monkeypatch.setattr(ingest, "ITEMS_PER_TASK", 2)
    ingest.run(params_with(workers=2, on_error="skip"), raw, tmp_path / "par")
    ingest.run(params_with(workers=1, on_error="skip"), raw, tmp_path / "ser")
    assert outputs(tmp_path / "par") == outputs(tmp_path / "ser")
    skipped = pl.read_parquet(tmp_path / "par/skipped.parquet")
    assert skipped["file"].to_list() == [str(paths[7]), str(paths[20])]
    assert skipped["line"].to_list() == [12, 9]
    assert pl.read_parquet(tmp_path / "par/index.parquet").height == 28


@pytest.mark.parametrize("workers", [0, 1, 2, 5])
def test_resolve_workers(workers):
    resolved = ingest.resolve_workers(workers)
    assert resolved == (workers or len(os.sched_getaffinity(0)))


# ------------------------------------------------------------------ preprocess


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ingested")
    write_dataset(root / "raw", 14, seed=3)
    ingest.run(params_with(workers=1), root / "raw", root / "out")
    return root / "out"


@pytest.mark.parametrize(("align", "scale"), [(False, "none"), (True, "none"), (True, "rms")])
def test_preprocess_chunked_equals_unchunked(ingested, tmp_path, align, scale):
    params = default_params()
    params = params.model_copy(update={"preprocess": params.preprocess.model_copy(
        update={"frames": 16, "align_view": align, "scale": scale})})
    results = []
    for chunk in (1, 40, 10**9):  # one sample per chunk, a few samples, everything at once
        preprocess.run_chunked(params, ingested, tmp_path / f"c{chunk}", chunk)
        results.append({name: (tmp_path / f"c{chunk}" / name).read_bytes()
                        for name in ("joints.npy", "motion.npy", "index.parquet", "meta.json")})
    assert results[0] == results[1] == results[2]
    # and the values are those of one in-memory batch (the implementation this replaced)
    index = pl.read_parquet(ingested / "index.parquet")
    joints = np.load(ingested / "joints.npy")
    offsets = np.append(index["offset"].to_numpy(), len(joints)).astype(np.int64)
    x, motion = preprocess_batch(joints, offsets, 16, params.preprocess.crop_ratio, 1, align, 12, 16, scale)
    saved = io.BytesIO()
    np.save(saved, x)
    assert results[0]["joints.npy"] == saved.getvalue()
    assert np.array_equal(np.load(tmp_path / "c1/motion.npy"), motion)


def test_align_view_auto_aligns_3d_layouts_with_hips_and_leaves_2d_alone():
    from skelssl.skeleton import LAYOUTS

    assert preprocess.view_alignment("auto", LAYOUTS["ntu25"]) is True
    assert preprocess.view_alignment(True, LAYOUTS["ntu25"]) is True
    assert preprocess.view_alignment(False, LAYOUTS["ntu25"]) is False
    two_d = [layout for layout in LAYOUTS.values() if layout.channels < 3]
    assert two_d
    for layout in two_d:
        assert preprocess.view_alignment("auto", layout) is False
        assert preprocess.view_alignment(False, layout) is False
        with pytest.raises(SkelsslError, match="preprocess.align_view"):
            preprocess.view_alignment(True, layout)


def test_chunks_cover_every_sample_once():
    offsets = np.array([0, 5, 5, 30, 31, 40, 100], dtype=np.int64)
    assert preprocess.chunks(offsets, 10) == [(0, 2), (2, 3), (3, 5), (5, 6)]
    assert preprocess.chunks(offsets, 1000) == [(0, 6)]
    assert preprocess.chunks(np.array([0], dtype=np.int64), 10) == []


# ------------------------------------------------------------------ .npy streaming


@pytest.mark.parametrize("rows", [0, 1, 7, 1000])
def test_npy_writer_is_np_save_and_reader_reads_ranges(tmp_path, rows):
    data = np.random.default_rng(rows).normal(size=(rows, 2, 5, 3)).astype(np.float32)
    with NpyWriter(tmp_path / "a.npy", np.float32, (2, 5, 3)) as writer:
        for part in np.array_split(data, 4):
            writer.append(part)
    saved = io.BytesIO()
    np.save(saved, data)
    assert (tmp_path / "a.npy").read_bytes() == saved.getvalue()
    with NpyReader(tmp_path / "a.npy") as reader:
        assert reader.shape == data.shape and len(reader) == rows
        for start, stop in [(0, rows), (rows // 3, rows // 2), (rows, rows)]:
            assert np.array_equal(reader.read(start, stop), data[start:stop])
        with pytest.raises(IndexError):
            reader.read(0, rows + 1)


def test_npy_writer_rejects_other_row_shapes(tmp_path):
    with NpyWriter(tmp_path / "a.npy", np.float32, (2, 3)) as writer:
        with pytest.raises(ValueError, match=r"\(3, 2\)"):
            writer.append(np.zeros((4, 3, 2), dtype=np.float32))
    assert np.load(tmp_path / "a.npy").shape == (0, 2, 3)


def test_sources_registry_still_has_ntu():
    assert SOURCES["ntu"] is NTUSource
