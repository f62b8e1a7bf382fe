"""Data sources MSR Action3D, UTKinect-Action3D, SBU Kinect Interaction and the generic format:
round trips on tiny files written here, malformed input naming file + line, missing folders naming
the param, and checks against the real datasets' SOURCE.md (through the `real_data` fixture)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from helpers import default_params
from skelssl.config import IngestParams
from skelssl.data.sources import SOURCES
from skelssl.data.sources.base import Rejected
from skelssl.data.sources.msr_action3d import MSR_TO_KINECT20
from skelssl.data.sources.sbu import FOLDS
from skelssl.errors import ParseError, SkelsslError
from skelssl.pipeline import ingest, preprocess
from skelssl.skeleton import LAYOUTS


def _params(**ingest_update):
    params = default_params()
    return params.model_copy(update={"ingest": params.ingest.model_copy(update=ingest_update)})


def _clips(source: str, root, **ingest_update):
    """(source, clips of every item); with on_error="skip", items raising ParseError and Rejected
    entries are left out, as ingest does."""
    cfg = _params(source=source, **ingest_update).ingest
    src = SOURCES[source]()
    items = src.items(root, cfg)
    clips = []
    for item in items:
        try:
            clips.extend(src.read(item, cfg))
        except ParseError:
            if cfg.on_error != "skip":
                raise
    if cfg.on_error == "skip":
        clips = [c for c in clips if not isinstance(c, Rejected)]
    return src, clips


# ---------------------------------------------------------------------------- MSR Action3D


def _msr_frames(rng, frames: int) -> np.ndarray:
    """(T, 20, 4) MSR-order values with distinct, non-zero coordinates."""
    values = rng.uniform(0.1, 2.0, (frames, 20, 4)).round(6)
    values[..., 3] = 1.0
    return values


def _write_msr(path, values):
    path.write_text("".join(f"{x:.6f} {y:.6f} {z:.6f} {c:.6f}\n" for x, y, z, c in values.reshape(-1, 4)))


def test_msr_round_trip_reorders_to_kinect20_and_drops_zero_frames(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "MSRAction3DSkeletonReal3D"
    folder.mkdir()
    values = _msr_frames(rng, 4)
    values[2, :, :3] = 0.0  # an untracked frame
    _write_msr(folder / "a05_s03_e02_skeleton3D.txt", values)
    _write_msr(folder / "a01_s04_e01_skeleton3D.txt", _msr_frames(rng, 2))
    _write_msr(folder / "a13_s09_e02_skeleton3D.txt", np.zeros((3, 20, 4)))  # the all-zero file
    (tmp_path / "files_used_in_cvpr12_paper.txt").write_text("a05_s03_e02\n")
    with pytest.raises(ParseError, match="a13_s09_e02_skeleton3D.txt:1: sequence: every frame is all zero"):
        _clips("msr_action3d", tmp_path)
    src, clips = _clips("msr_action3d", tmp_path, on_error="skip")
    assert src.layout == "kinect20" and src.persons == 1
    assert [c.name for c in clips] == ["a01_s04_e01", "a05_s03_e02"]  # no clip for the zero file
    clip = clips[1]
    assert clip.label == 4 and clip.joints.shape == (3, 1, 20, 3) and clip.joints.dtype == np.float32
    kept = values[[0, 1, 3]]
    names = LAYOUTS["kinect20"].joint_names
    # MSR joint 20 is the head, 7 the hip centre, 1 shoulder A (left), 19 foot B (right)
    for msr, kinect in ((19, "head"), (6, "hip_center"), (0, "shoulder_left"), (18, "foot_right")):
        assert np.allclose(clip.joints[:, 0, names.index(kinect)], kept[:, msr, :3])
    assert np.allclose(clip.joints[:, 0], kept[:, MSR_TO_KINECT20, :3])
    assert dict(clip.meta) == {"action": 5, "subject": 3, "repetition": 2, "frames_removed": 1, "cvpr12": 1}
    assert clip.splits == {"xsub_train": True}
    assert clips[0].splits == {"xsub_train": False} and clips[0].meta["cvpr12"] == 0


@pytest.mark.parametrize(("mangle", "line", "words"), [
    (lambda lines: lines[:5] + ["0.1 0.2 0.3"] + lines[6:], 6, "expected 4 numbers"),
    (lambda lines: lines[:7] + ["0.1 zz 0.3 1"] + lines[8:], 8, "not a number"),
    (lambda lines: lines[:33], 33, "not a multiple of 20"),
])
def test_msr_malformed_line_names_file_and_line(tmp_path, mangle, line, words):
    path = tmp_path / "a02_s01_e01_skeleton3D.txt"
    _write_msr(path, _msr_frames(np.random.default_rng(1), 2))
    path.write_text("\n".join(mangle(path.read_text().splitlines())) + "\n")
    with pytest.raises(ParseError) as err:
        _clips("msr_action3d", tmp_path)
    assert err.value.path == path and err.value.line == line and words in err.value.message


def test_msr_bad_name_is_a_parse_error(tmp_path):
    _write_msr(tmp_path / "a21_s01_e01_skeleton3D.txt", _msr_frames(np.random.default_rng(2), 1))
    with pytest.raises(ParseError, match="out of range"):
        _clips("msr_action3d", tmp_path)


# ---------------------------------------------------------------------------- UTKinect


def _utk_line(frame: int, base: float) -> str:
    return f"{frame}  " + "  ".join(f"{base + 0.001 * k:.6f}" for k in range(60)) + "  \n"


def _write_utk(folder, labels: str):
    folder.mkdir(parents=True, exist_ok=True)
    frames = [10, 10, 12, 14, 20, 22, 24, 26]  # a duplicate index and a gap, as in the real files
    (folder / "joints_s02_e01.txt").write_text("".join(_utk_line(f, 0.1 * i) for i, f in enumerate(frames)))
    (folder / "actionLabel.txt").write_text(labels)


LABELS = "s02_e01\nwalk: 10 14\ncarry:  NaN NaN\npull: 20 26 \n"


def test_utkinect_segments_keep_duplicate_frames_and_skip_nan(tmp_path):
    _write_utk(tmp_path / "joints", LABELS)
    src, clips = _clips("utkinect", tmp_path)
    assert src.layout == "kinect20"
    assert [c.name for c in clips] == ["s02_e01_walk", "s02_e01_pull"]
    walk, pull = clips
    assert walk.label == 0 and pull.label == 7
    assert walk.joints.shape == (4, 1, 20, 3) and pull.joints.shape == (4, 1, 20, 3)
    assert np.isclose(walk.joints[1, 0, 0, 0], 0.1) and np.isclose(walk.joints[0, 0, 0, 0], 0.0)
    assert np.isclose(pull.joints[0, 0, 19, 2], 0.4 + 0.059)  # 5th line, last value
    assert dict(walk.meta) == {"subject": 2, "recording": 1, "action": "walk", "start": 10, "end": 14}
    assert walk.splits == {"xsub_train": False}


def test_utkinect_label_file_param(tmp_path):
    _write_utk(tmp_path, LABELS)
    (tmp_path / "actionLabel_modified.txt").write_text("s02_e01\nwalk: 10 26\n")
    _, clips = _clips("utkinect", tmp_path, labels="actionLabel_modified.txt")
    assert [len(c.joints) for c in clips] == [8]
    with pytest.raises(SkelsslError, match="ingest.labels"):
        _clips("utkinect", tmp_path, labels="nope.txt")


@pytest.mark.parametrize(("labels", "line", "words"), [
    ("s02_e01\nwalk 10 14\n", 2, "expected"),
    ("s02_e01\nwalk: 10 14\nfly: 1 2\n", 3, "unknown action"),
    ("s02_e01\nwalk: 14 10\n", 2, "before it starts"),
    ("s02_e01\nwalk: 10 x\n", 2, "not a number"),
    ("s02_e01\nwalk: 10 14\n\nwalk: 20 22\n", 4, "twice"),
])
def test_utkinect_malformed_label_names_file_and_line(tmp_path, labels, line, words):
    _write_utk(tmp_path, labels)
    with pytest.raises(ParseError) as err:
        _clips("utkinect", tmp_path)
    assert err.value.path == tmp_path / "actionLabel.txt" and err.value.line == line
    assert words in err.value.message


def test_utkinect_segment_without_skeleton_is_rejected_alone(tmp_path):
    _write_utk(tmp_path, "s02_e01\nwalk: 10 14\nthrow: 100 200\n")
    _, clips = _clips("utkinect", tmp_path)
    assert [type(c).__name__ for c in clips] == ["Clip", "Rejected"]  # the walk segment is kept
    rejected = clips[1]
    assert (rejected.path, rejected.line) == (tmp_path / "actionLabel.txt", 3)
    assert "no skeleton frame in [100, 200]" in rejected.message


def test_utkinect_malformed_joints_line(tmp_path):
    _write_utk(tmp_path, LABELS)
    path = tmp_path / "joints_s02_e01.txt"
    lines = path.read_text().splitlines()
    lines[2] = " ".join(lines[2].split()[:-1])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as err:
        _clips("utkinect", tmp_path)
    assert err.value.path == path and err.value.line == 3 and "expected 61 numbers, got 60" in err.value.message


# ---------------------------------------------------------------------------- SBU


def _write_sbu(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{55 + i}," + ",".join(f"{v:g}" for v in row) + "\n" for i, row in enumerate(rows)))


def test_sbu_round_trip_converts_to_metres_y_up(tmp_path):
    rows = np.full((3, 90), 0.25)
    rows[:, :3] = [0.5, 0.5, 1.5625]  # person A head at the image centre → X = Y = 0, Z = 2 m
    rows[1, 45:] = 0.0  # person B absent in frame 2: stays all zero
    _write_sbu(tmp_path / "s01s02/03/001/skeleton_pos.txt", rows)
    _write_sbu(tmp_path / "s04s06/08/002/skeleton_pos.txt", rows[:2])
    src, clips = _clips("sbu", tmp_path)
    assert (src.layout, src.persons) == ("openni15", 2)
    assert [c.name for c in clips] == ["s01s02_03_001", "s04s06_08_002"]
    clip = clips[0]
    assert clip.label == 2 and clip.joints.shape == (3, 2, 15, 3)
    assert np.allclose(clip.joints[0, 0, 0], [0.0, 0.0, 2.0])
    # 0.25 everywhere else: X = (1280 − 640) / 1000, Y = (960 − 480) / 1000, Z = 0.25 · 1.28
    assert np.allclose(clip.joints[0, 1, 5], [0.64, 0.48, 0.32])
    assert (clip.joints[1, 1] == 0).all() and clip.joints[1, 0].any()
    assert dict(clip.meta) == {"set": "s01s02", "participant_a": 1, "participant_b": 2, "sequence": "001"}
    assert clip.splits == {"fold1_train": False, "fold2_train": True, "fold3_train": True,
                           "fold4_train": True, "fold5_train": True}
    assert clips[1].label == 7 and clips[1].splits["fold5_train"] is False


def test_sbu_y_grows_downward_in_the_file_and_upward_after(tmp_path):
    rows = np.full((1, 90), 0.5)
    rows[0, 1], rows[0, 34] = 0.3, 0.9  # head y (joint 1) above foot y (joint 12) in the image
    _write_sbu(tmp_path / "s01s02/01/001/skeleton_pos.txt", rows)
    _, (clip,) = _clips("sbu", tmp_path)
    head, foot = clip.joints[0, 0, 0], clip.joints[0, 0, 11]
    assert head[1] > foot[1]


def test_sbu_malformed_line(tmp_path):
    path = tmp_path / "s01s02/01/001/skeleton_pos.txt"
    _write_sbu(path, np.full((3, 90), 0.5))
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as err:
        _clips("sbu", tmp_path)
    assert err.value.path == path and err.value.line == 2 and "got 90" in err.value.message


# ---------------------------------------------------------------------------- generic


def _write_generic(folder, labels: str, arrays: dict):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    (folder / "labels.csv").write_text(labels)


def test_generic_round_trip_2d_coco_pads_persons(tmp_path):
    rng = np.random.default_rng(3)
    one = rng.normal(size=(5, 17, 2)).astype(np.float32)
    two = rng.normal(size=(4, 2, 17, 2))
    two[1] = 0.0  # an all-zero frame is dropped
    _write_generic(tmp_path, "name,label,subject,xsub_train\nb,1,7,1\na,0,8,0\n", {"a": one, "b": two})
    src, clips = _clips("generic", tmp_path, layout="coco17")
    assert (src.layout, src.persons) == ("coco17", 2)
    assert [c.name for c in clips] == ["b", "a"]  # labels.csv order
    b, a = clips
    assert a.joints.shape == (5, 2, 17, 2) and np.array_equal(a.joints[:, 0], one) and not a.joints[:, 1].any()
    assert b.joints.shape == (3, 2, 17, 2) and np.allclose(b.joints, two[[0, 2, 3]])
    assert (a.label, b.label) == (0, 1)
    assert dict(a.meta) == {"subject": 8} and a.splits == {"xsub_train": False} and b.splits == {"xsub_train": True}


def test_generic_class_names(tmp_path):
    arr = np.ones((3, 20, 3))
    _write_generic(tmp_path, "name,label,room\nx,wave,A\ny,clap,B\n", {"x": arr, "y": arr})
    _, (x, y) = _clips("generic", tmp_path, layout="kinect20")
    assert (x.label, y.label) == (1, 0)  # sorted names: clap 0, wave 1
    assert dict(x.meta) == {"room": "A", "class_name": "wave"}


@pytest.mark.parametrize(("labels", "line", "words"), [
    ("file,label\nx,0\n", 1, "header must start with name,label"),
    ("name,label,xsub_train\nx,0,1\ny,0\n", 3, "expected 3 values"),
    ("name,label,xsub_train\nx,0,yes\n", 2, "must be 0 or 1"),
    ("name,label\nx,0\nx,1\n", 3, "listed twice"),
    ("name,label\nx,-1\n", 2, "negative"),
])
def test_generic_malformed_labels(tmp_path, labels, line, words):
    _write_generic(tmp_path, labels, {"x": np.ones((2, 15, 3))})
    with pytest.raises(ParseError) as err:
        _clips("generic", tmp_path, layout="openni15")
    assert err.value.path == tmp_path / "labels.csv" and err.value.line == line and words in err.value.message


def test_generic_bad_arrays_and_layout(tmp_path):
    _write_generic(tmp_path, "name,label\nx,0\nz,0\n", {"x": np.ones((2, 17, 3))})
    with pytest.raises(ParseError, match=r"V = 17, C = 2 \(layout coco17\)"):
        _clips("generic", tmp_path, layout="coco17")
    cfg = _params(source="generic", layout="kinect20").ingest
    src = SOURCES["generic"]()
    items = src.items(tmp_path, cfg)
    with pytest.raises(ParseError) as err:
        src.read(items[1], cfg)
    assert err.value.path == tmp_path / "z.npy" and "not found" in err.value.message
    with pytest.raises(SkelsslError, match="ingest.layout"):
        _clips("generic", tmp_path, layout="auto")
    with pytest.raises(ValidationError, match="layout must be 'auto' or one of"):
        IngestParams.model_validate({**default_params().ingest.model_dump(), "layout": "bogus"})


def test_generic_values_beyond_float32_are_one_error_without_warnings(tmp_path):
    _write_generic(tmp_path, "name,label\nx,0\n", {"x": np.full((4, 20, 3), 1e300)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast" would fail here
        with pytest.raises(ParseError, match="NaN or infinite values"):
            _clips("generic", tmp_path, layout="kinect20")


def test_generic_ingest_and_preprocess_write_the_layout(tmp_path):
    rng = np.random.default_rng(4)
    arrays = {f"s{i}": rng.normal(size=(6 + i, 17, 2)) for i in range(3)}
    _write_generic(tmp_path / "raw", "name,label,xsub_train\ns0,0,1\ns1,1,0\ns2,0,1\n", arrays)
    params = _params(source="generic", layout="coco17")
    ingest.run(params, tmp_path / "raw", tmp_path / "ingested")
    meta = json.loads((tmp_path / "ingested/meta.json").read_text())
    assert {k: meta[k] for k in ("source", "layout", "persons", "splits")} == {
        "source": "generic", "layout": "coco17", "persons": 1, "splits": ["xsub"]}
    assert set(meta["ingest"]) == {"second_person", "denoise"}  # reading options (skelssl predict)
    preprocess.run(params, tmp_path / "ingested", tmp_path / "processed")
    assert np.load(tmp_path / "processed/joints.npy").shape == (3, 1, params.preprocess.frames, 17, 2)
    aligned = params.model_copy(update={"preprocess": params.preprocess.model_copy(update={"align_view": True})})
    with pytest.raises(SkelsslError, match="is 2D"):
        preprocess.run(aligned, tmp_path / "ingested", tmp_path / "aligned")


# ---------------------------------------------------------------------------- all sources


@pytest.mark.parametrize("source", ["msr_action3d", "utkinect", "sbu", "generic"])
def test_missing_folder_names_the_param(tmp_path, source):
    layout = "ntu25" if source == "generic" else "auto"
    with pytest.raises(SkelsslError) as err:
        _clips(source, tmp_path / "nowhere", layout=layout)
    assert "ingest.input" in str(err.value) and "nowhere" in str(err.value)
    (tmp_path / "empty").mkdir()
    if source != "generic":
        with pytest.raises(SkelsslError, match="ingest.input: no"):
            _clips(source, tmp_path / "empty")


def test_skip_mode_records_malformed_msr_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(5)
    _write_msr(raw / "a01_s01_e01_skeleton3D.txt", _msr_frames(rng, 2))
    bad = raw / "a02_s01_e01_skeleton3D.txt"
    _write_msr(bad, _msr_frames(rng, 2))
    bad.write_text(bad.read_text().replace("\n", "\n0 0\n", 1))
    with pytest.raises(ParseError, match="expected 4 numbers"):
        ingest.run(_params(source="msr_action3d"), raw, tmp_path / "failed")
    assert not (tmp_path / "failed").exists()
    ingest.run(_params(source="msr_action3d", on_error="skip"), raw, tmp_path / "out")
    skipped = pl.read_parquet(tmp_path / "out/skipped.parquet")
    assert skipped["file"].to_list() == [str(bad)] and skipped["line"].to_list() == [2]
    assert pl.read_parquet(tmp_path / "out/index.parquet")["name"].to_list() == ["a01_s01_e01"]


# ---------------------------------------------------------------------------- real data


def _index(source, root, **update):
    src, clips = _clips(source, root, **update)
    rows = [{"name": c.name, "label": c.label, "frames": len(c.joints), **c.meta, **c.splits} for c in clips]
    return src, clips, pl.DataFrame(rows)


def test_real_msr_action3d(real_data):
    root = real_data("msr_action3d")
    src = SOURCES["msr_action3d"]()
    assert len(src.items(root, _params(source="msr_action3d").ingest)) == 567
    _, clips, index = _index("msr_action3d", root, on_error="skip")
    assert index.height == 566  # a13_s09_e02 is all zeros: a ParseError, skipped
    assert "a13_s09_e02" not in index["name"].to_list()
    assert index["label"].n_unique() == 20 and index["subject"].n_unique() == 10
    per_subject = index.group_by("subject").len().sort("subject")["len"].to_list()
    assert per_subject == [60, 59, 56, 38, 57, 58, 59, 60, 59, 60]  # SOURCE.md's counts, s09 minus one
    assert index["cvpr12"].sum() == 557
    assert (index["xsub_train"].sum(), (~index["xsub_train"]).sum()) == (291, 275)
    assert index["frames_removed"].sum() == 1075
    first = clips[0]
    assert first.name == "a01_s01_e01" and first.joints.shape == (54, 1, 20, 3)
    names = LAYOUTS["kinect20"].joint_names
    assert np.allclose(first.joints[0, 0, names.index("head")], [-0.182593, 0.659618, 2.547210])
    assert np.allclose(first.joints[0, 0, names.index("hip_center")], [-0.189501, 0.002549, 2.759828])
    assert np.allclose(first.joints[-1, 0, names.index("head")], [-0.120735, 0.666254, 2.5686])
    # y is up and A = left puts the left shoulder at smaller x, as UTKinect's Kinect SDK data
    means = np.concatenate([c.joints[:, 0] for c in clips]).mean(axis=0)
    assert means[names.index("head"), 1] > means[names.index("hip_center"), 1] > means[names.index("foot_left"), 1]
    assert means[names.index("shoulder_left"), 0] < means[names.index("shoulder_right"), 0]


def test_real_utkinect(real_data):
    root = real_data("utkinect_action3d")
    _, clips, index = _index("utkinect", root)
    assert index.height == 199 and index["label"].n_unique() == 10 and index["subject"].n_unique() == 10
    assert index.filter((pl.col("subject") == 10) & (pl.col("recording") == 2))["action"].to_list().count("carry") == 0
    assert index["frames"].sum() == 6222 and (index["frames"].min(), index["frames"].max()) == (5, 174)
    assert (index["xsub_train"].sum(), (~index["xsub_train"]).sum()) == (100, 99)
    walk = clips[0]
    assert walk.name == "s01_e01_walk" and walk.joints.shape == (46, 1, 20, 3)
    assert np.allclose(walk.joints[0, 0, 0], [0.746392, -0.118030, 2.015845])  # first line with frame >= 252
    names = LAYOUTS["kinect20"].joint_names
    means = np.concatenate([c.joints[:, 0] for c in clips]).mean(axis=0)
    assert means[names.index("head"), 1] > means[names.index("hip_center"), 1] > means[names.index("foot_left"), 1]
    _, _, modified = _index("utkinect", root, labels="actionLabel_modified.txt")
    assert modified.height == 199 and modified["frames"].sum() == 5989
    row = modified.filter(pl.col("name") == "s01_e02_walk")
    assert row["frames"].item() == 36 and index.filter(pl.col("name") == "s01_e02_walk")["frames"].item() == 12


def test_real_sbu(real_data):
    root = real_data("sbu_kinect_interaction")
    _, clips, index = _index("sbu", root)
    assert index.height == 282 and index["set"].n_unique() == 21
    counts = index.group_by("label").len().sort("label")["len"].to_list()
    assert counts == [42, 43, 40, 41, 18, 21, 39, 38]
    participants = set(index["participant_a"].to_list()) | set(index["participant_b"].to_list())
    assert participants == set(range(1, 8))
    assert (index["frames"].min(), index["frames"].max()) == (10, 46)
    assert set().union(*FOLDS) == set(index["set"].to_list())  # every set is in exactly one fold
    assert sum(len(f) for f in FOLDS) == 21
    assert sum(int((~index[f"fold{k}_train"]).sum()) for k in range(1, 6)) == 282
    first = clips[0]
    assert first.name == "s01s02_01_001" and first.joints.shape == (45, 2, 15, 3)
    # first line: 55,0.21496,0.32665,1.7849,... → X = (1280 − 2560x)/1000, Y = (960 − 1920y)/1000, Z = 1.28z
    assert np.allclose(first.joints[0, 0, 0], [0.7297024, 0.332832, 2.284672], atol=1e-6)
    heads = np.concatenate([c.joints[:, :, 0] for c in clips])
    feet = np.concatenate([c.joints[:, :, 11] for c in clips])
    assert (heads[..., 1] > feet[..., 1]).mean() > 0.99  # y up after the conversion


# ---------------------------------------------------------------------------- issue 11: labels, zero frames, corrupt inputs


def _coco(rng, frames=5):
    return rng.normal(size=(frames, 17, 2)).astype(np.float32)


def test_generic_sparse_labels_are_remapped_and_load_after_preprocess(tmp_path):
    from skelssl.pipeline.dataset import load_processed

    rng = np.random.default_rng(7)
    arrays = {f"s{i}": _coco(rng, 6) for i in range(4)}
    _write_generic(tmp_path / "raw", "name,label,xsub_train\ns0,10000000,1\ns1,3,0\ns2,2147483647,1\ns3,3,0\n",
                   arrays)
    params = _params(source="generic", layout="coco17")
    ingest.run(params, tmp_path / "raw", tmp_path / "ingested")
    index = pl.read_parquet(tmp_path / "ingested/index.parquet")
    assert index["label"].dtype == pl.Int64 and index["original_label"].dtype == pl.Int64
    assert index["label"].to_list() == [1, 0, 2, 0]  # distinct ids in ascending order → 0..K-1
    assert index["original_label"].to_list() == [10000000, 3, 2147483647, 3]
    preprocess.run(params, tmp_path / "ingested", tmp_path / "processed")
    data = load_processed(tmp_path / "processed")
    assert data.num_classes == 3 and data.index["label"].dtype == pl.Int64
    _, _, labels = data.split("xsub", True)
    assert labels.tolist() == [1, 2]


def test_generic_dense_labels_are_kept_without_original_column(tmp_path):
    rng = np.random.default_rng(8)
    _write_generic(tmp_path, "name,label\na,1\nb,0\n", {"a": _coco(rng), "b": _coco(rng)})
    _, clips = _clips("generic", tmp_path, layout="coco17")
    assert [c.label for c in clips] == [1, 0] and all("original_label" not in c.meta for c in clips)


@pytest.mark.parametrize(("labels", "line", "words"), [
    ("name,label\nx,0\ny,99999999999999999999\n", 3, "label 99999999999999999999 is too large"),
    ("name,label\nx,2147483648\n", 2, "too large"),
    ("name,label\nx,0\ny,-3\n", 3, "label -3 is negative"),
    ("name,label\nx,0\ny,1.5\n", 3, "'1.5' is a number but not an integer"),
    ("name,label\nx,1.5\ny,2.5\n", 2, "'1.5' is a number but not an integer"),
    ("name,label\nx,0\ny,walk\n", 3, "'walk' is a class name, but the label on line 2 is an integer"),
    ("name,label,offset\nx,0,1\n", 1, "column name 'offset' is reserved"),
])
def test_generic_bad_labels_name_file_and_line(tmp_path, labels, line, words):
    arr = np.ones((2, 15, 3))
    _write_generic(tmp_path, labels, {"x": arr, "y": arr})
    with pytest.raises(ParseError) as err:
        _clips("generic", tmp_path, layout="openni15")
    assert (err.value.path, err.value.line) == (tmp_path / "labels.csv", line), err.value
    assert words in err.value.message and "\n" not in str(err.value)


def test_all_zero_clip_fails_or_is_skipped(tmp_path):
    rng = np.random.default_rng(9)
    zero = np.zeros((4, 17, 2), dtype=np.float32)
    _write_generic(tmp_path / "raw", "name,label\na,0\nz,1\nb,1\n", {"a": _coco(rng), "z": zero, "b": _coco(rng)})
    with pytest.raises(ParseError, match=r"z\.npy:0: array: every frame is all zero"):
        ingest.run(_params(source="generic", layout="coco17"), tmp_path / "raw", tmp_path / "failed")
    assert not (tmp_path / "failed").exists()
    ingest.run(_params(source="generic", layout="coco17", on_error="skip"), tmp_path / "raw", tmp_path / "out")
    skipped = pl.read_parquet(tmp_path / "out/skipped.parquet")
    assert skipped["file"].to_list() == [str(tmp_path / "raw/z.npy")] and "all zero" in skipped["error"][0]
    assert pl.read_parquet(tmp_path / "out/index.parquet")["name"].to_list() == ["a", "b"]


def test_sbu_zero_frames_removed_and_all_zero_file_is_an_error(tmp_path):
    rows = np.full((4, 90), 0.25)
    rows[0] = rows[2] = 0.0  # leading and interior frames with nobody
    _write_sbu(tmp_path / "s01s02/03/001/skeleton_pos.txt", rows)
    _, (clip,) = _clips("sbu", tmp_path)
    assert len(clip.joints) == 2 and clip.joints.reshape(2, -1).any(axis=1).all()
    path = tmp_path / "s01s02/04/001/skeleton_pos.txt"
    _write_sbu(path, np.zeros((3, 90)))
    with pytest.raises(ParseError) as err:
        _clips("sbu", tmp_path)
    assert (err.value.path, err.value.line) == (path, 1) and "every frame is all zero" in err.value.message
    _, clips = _clips("sbu", tmp_path, on_error="skip")
    assert [c.name for c in clips] == ["s01s02_03_001"]


@pytest.mark.parametrize("kind", ["folder", "dangling symlink"])
def test_msr_and_sbu_odd_entries_are_parse_errors(tmp_path, kind):
    rng = np.random.default_rng(10)
    msr = tmp_path / "msr"
    msr.mkdir()
    _write_msr(msr / "a01_s01_e01_skeleton3D.txt", _msr_frames(rng, 2))
    sbu_file = tmp_path / "sbu/s01s02/01/001/skeleton_pos.txt"
    _write_sbu(sbu_file, np.full((2, 90), 0.3))
    odd = [msr / "a02_s01_e01_skeleton3D.txt", tmp_path / "sbu/s01s02/02/001/skeleton_pos.txt"]
    for path in odd:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "folder":
            path.mkdir()
        else:
            path.symlink_to(tmp_path / "nowhere.txt")
    for source, root, path in (("msr_action3d", msr, odd[0]), ("sbu", tmp_path / "sbu", odd[1])):
        with pytest.raises(ParseError) as err:
            _clips(source, root)
        assert err.value.path == path and "not a readable file" in err.value.message
        _, clips = _clips(source, root, on_error="skip")
        assert len(clips) == 1


@pytest.mark.parametrize(("target", "content", "words"), [
    ("meta.json", b"\x89\xff random bytes", "not valid JSON"),
    ("meta.json", b"[1, 2]", "expected a JSON object"),
    ("meta.json", b'{"layout": 7}', "unknown skeleton layout 7"),
    ("index.parquet", b"PAR1 not really", "not a readable ingested index"),
    ("index.parquet", None, "has no 'offset' column"),
    ("index.parquet", "null-label", "column 'label' must hold integers without nulls"),
])
def test_corrupt_ingest_artifact_gives_one_line_to_preprocess(tmp_path, target, content, words):
    rng = np.random.default_rng(11)
    _write_generic(tmp_path / "raw", "name,label\na,0\nb,1\n", {"a": _coco(rng), "b": _coco(rng)})
    params = _params(source="generic", layout="coco17")
    ingest.run(params, tmp_path / "raw", tmp_path / "ingested")
    path = tmp_path / "ingested" / target
    index = pl.read_parquet(tmp_path / "ingested/index.parquet")
    if content is None:
        index.drop("offset").write_parquet(path)
    elif content == "null-label":
        index.with_columns(pl.lit(None, dtype=pl.Int64).alias("label")).write_parquet(path)
    else:
        path.write_bytes(content)
    with pytest.raises(SkelsslError) as err:
        preprocess.run(params, tmp_path / "ingested", tmp_path / "processed")
    message = str(err.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message
    assert not (tmp_path / "processed").exists()


def test_corrupt_processed_artifact_gives_one_line(tmp_path):
    from skelssl.pipeline.dataset import load_processed

    rng = np.random.default_rng(12)
    _write_generic(tmp_path / "raw", "name,label\na,0\nb,1\n", {"a": _coco(rng), "b": _coco(rng)})
    params = _params(source="generic", layout="coco17")
    ingest.run(params, tmp_path / "raw", tmp_path / "ingested")
    preprocess.run(params, tmp_path / "ingested", tmp_path / "processed")
    load_processed(tmp_path / "processed")
    (tmp_path / "processed/joints.npy").write_bytes(b"garbage")
    with pytest.raises(SkelsslError, match=r"processed/joints\.npy: not a readable processed joints"):
        load_processed(tmp_path / "processed")
    (tmp_path / "processed/index.parquet").unlink()
    (tmp_path / "processed/index.parquet").mkdir()
    with pytest.raises(SkelsslError, match=r"processed/index\.parquet: processed index is not a file"):
        load_processed(tmp_path / "processed")
