"""Ingest stage: valid files → index + joints; bad input → one line naming file and line, exit 1,
no partial output, earlier outputs kept; `on_error: skip` records skipped files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from ruamel.yaml import YAML

from helpers import ROOT, tree_snapshot
from skelssl.data.ntu_format import BodyFrame, write_skeleton


def _body(body_id: int, offset: float, rng) -> BodyFrame:
    xyz = rng.normal(0, 0.3, (25, 3)) + np.array([offset, 0.0, 3.0])
    xyz[:, 1] = np.linspace(-0.8, 0.8, 25)  # tall, not wide: never "noisy" for the denoiser
    return BodyFrame(body_id, xyz, np.full(25, 2))


def _write_dataset(folder, names, frames=15, seed=0) -> dict[str, np.ndarray]:
    """Write the files; return each one's coordinates as written, (frames, bodies, 25, 3)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names:
        two = name.endswith("A003")
        seq = [[_body(1, 0.0, rng)] + ([_body(2, 1.0, rng)] if two else []) for _ in range(frames)]
        write_skeleton(folder / f"{name}.skeleton", seq)
        written[name] = np.array([[body.xyz for body in bodies] for bodies in seq])
    return written


NAMES = ["S001C001P001R001A001", "S001C002P003R001A002", "S001C001P002R001A003"]


def _params(tmp_path, **ingest):
    data = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    data["ingest"].update(ingest)
    path = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(data, path)
    return path


def _ingest(tmp_path, input_dir, out_dir, **ingest):
    cmd = [sys.executable, "-m", "skelssl", "ingest", str(input_dir), str(out_dir),
           "--params", str(_params(tmp_path, **ingest))]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _error_line(stderr: str) -> str:
    """The error is exactly one line, the last one (progress log lines may precede it)."""
    lines = stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


def test_ingest_writes_index_and_joints(tmp_path):
    written = _write_dataset(tmp_path / "raw", NAMES)
    run = _ingest(tmp_path, tmp_path / "raw", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    index = pl.read_parquet(tmp_path / "out/index.parquet")
    joints = np.load(tmp_path / "out/joints.npy")
    assert index["name"].to_list() == sorted(NAMES)
    assert index["frames"].to_list() == [15, 15, 15]
    assert index["offset"].to_list() == [0, 15, 30]
    assert joints.shape == (45, 2, 25, 3) and joints.dtype == np.float32
    row = index.filter(pl.col("name") == "S001C001P002R001A003").row(0, named=True)
    assert row["actors"] == 2 and row["bodies"] == 2 and row["label"] == 2
    assert row["xsub_train"] is True and row["xview_train"] is False
    one = index.filter(pl.col("name") == "S001C002P003R001A002").row(0, named=True)
    assert one["xsub_train"] is False and one["xview_train"] is True
    assert (joints[one["offset"]:one["offset"] + 15, 1] == 0).all()  # second person: zeros
    for row in index.iter_rows(named=True):  # the coordinates as written (5 decimals in the file)
        clip = joints[row["offset"]:row["offset"] + row["frames"]]
        xyz = written[row["name"]]
        np.testing.assert_allclose(clip[:, :xyz.shape[1]], xyz, atol=1e-5, err_msg=row["name"])
    assert pl.read_parquet(tmp_path / "out/skipped.parquet").height == 0


def test_second_person_copy(tmp_path):
    written = _write_dataset(tmp_path / "raw", NAMES[:1])
    assert _ingest(tmp_path, tmp_path / "raw", tmp_path / "out", second_person="copy").returncode == 0
    joints = np.load(tmp_path / "out/joints.npy")
    np.testing.assert_allclose(joints[:, 0], written[NAMES[0]][:, 0], atol=1e-5)  # the one body
    assert np.array_equal(joints[:, 1], joints[:, 0])  # and its copy


@pytest.mark.parametrize(("mangle", "line"), [
    (lambda lines: lines[:40], 41),  # truncated inside a body
    (lambda lines: lines[:5] + ["0.1 abc 3.0 1 1 1 1 1 0 0 0 2"] + lines[6:], 6),  # non-numeric
    (lambda lines: lines[:3] + ["24"] + lines[4:], 4),  # wrong joint count
])
def test_malformed_file_fails_with_file_and_line_and_keeps_old_output(tmp_path, mangle, line):
    raw = tmp_path / "raw"
    _write_dataset(raw, NAMES)
    out = tmp_path / "out"
    assert _ingest(tmp_path, raw, out).returncode == 0
    before = (out / "index.parquet").read_bytes()
    bad = raw / f"{NAMES[1]}.skeleton"
    bad.write_text("\n".join(mangle(bad.read_text().splitlines())) + "\n")
    run = _ingest(tmp_path, raw, out)
    assert run.returncode == 1
    message = _error_line(run.stderr)
    assert message.startswith(f"error: {bad}:{line}:"), message
    assert "Traceback" not in run.stderr
    assert (out / "index.parquet").read_bytes() == before  # earlier output intact
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no half-written output


def test_skip_mode_records_bad_files(tmp_path):
    raw = tmp_path / "raw"
    _write_dataset(raw, NAMES)
    (raw / f"{NAMES[0]}.skeleton").write_text("3\n1\n")
    run = _ingest(tmp_path, raw, tmp_path / "out", on_error="skip")
    assert run.returncode == 0, run.stderr
    skipped = pl.read_parquet(tmp_path / "out/skipped.parquet")
    assert skipped["file"].to_list() == [str(raw / f"{NAMES[0]}.skeleton")]
    assert skipped["line"].to_list() == [3]
    assert pl.read_parquet(tmp_path / "out/index.parquet").height == 2


def test_missing_input_folder_names_the_param(tmp_path):
    run = _ingest(tmp_path, tmp_path / "nowhere", tmp_path / "out")
    assert run.returncode == 1
    message = _error_line(run.stderr)
    assert "ingest.input" in message and "nowhere" in message
    assert not (tmp_path / "out").exists()


def test_bad_sample_name_is_reported(tmp_path):
    raw = tmp_path / "raw"
    _write_dataset(raw, NAMES[:1])
    (raw / f"{NAMES[0]}.skeleton").rename(raw / "walking.skeleton")
    run = _ingest(tmp_path, raw, tmp_path / "out")
    assert run.returncode == 1 and "walking.skeleton" in run.stderr


def test_prepare_writes_what_ingest_then_preprocess_write(tmp_path):
    """`skelssl prepare` (one process) gives the two stages' output folders, byte for byte."""
    _write_dataset(tmp_path / "raw", NAMES)
    params = _params(tmp_path)
    for args in (["ingest", "raw", "two/ingested"], ["preprocess", "two/ingested", "two/processed"],
                 ["prepare", "raw", "one/ingested", "one/processed"]):
        run = subprocess.run([sys.executable, "-m", "skelssl", *args, "--params", str(params)],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    for folder in ("ingested", "processed"):
        one = tree_snapshot(tmp_path / "one" / folder)
        assert one == tree_snapshot(tmp_path / "two" / folder) and len(one) >= 3, folder
    assert np.load(tmp_path / "one/processed/joints.npy").shape[0] == len(NAMES)
