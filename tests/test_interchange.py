"""Interchange (methods.md §8.3, §7.5): CTR-GCN/MAMP .npz import, pyskl pickle import through the
restricted unpickler, `skelssl export-pyskl`, and the round trip ingest → export → import."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from helpers import default_params
from skelssl.cli import app
from skelssl.data.interchange import load_pickle, read_npz_part
from skelssl.data.ntu_format import BodyFrame, write_skeleton
from skelssl.data.sources.base import Rejected
from skelssl.data.sources.interchange import CtrgcnNpzSource, PysklSource
from skelssl.errors import ParseError, SkelsslError
from skelssl.pipeline import ingest


def _params(source: str, **update):
    params = default_params()
    return params.model_copy(update={"ingest": params.ingest.model_copy(update={"source": source, **update})})


def _clips(source, path: Path, cfg):
    return [clip for item in source.items(path, cfg) for clip in source.read(item, cfg)]


# ---------------------------------------------------------------------------- CTR-GCN npz


def _npz_arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    x_train = np.zeros((3, 12, 150), dtype=np.float32)
    x_train[0, :7] = rng.normal(size=(7, 150))
    x_train[1, :12] = rng.normal(size=(12, 150))
    x_train[2, :4] = rng.normal(size=(4, 150))
    x_train[2, 1] = 0  # a zero frame inside the valid length: removed
    x_test = np.zeros((2, 12, 150), dtype=np.float32)
    x_test[1, :5] = rng.normal(size=(5, 150))  # row 0 is all zero
    y_train = np.eye(4, dtype=np.float32)[[2, 0, 3]]
    y_test = np.eye(4, dtype=np.float32)[[1, 1]]
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_import(tmp_path, save):
    arrays = _npz_arrays()
    path = tmp_path / "NTU60_XSub.npz"
    save(path, **arrays)
    npz = default_params().ingest.npz.model_copy(update={"benchmark": "xview"})
    cfg = _params("ctrgcn_npz", npz=npz).ingest
    clips = _clips(CtrgcnNpzSource(), path, cfg)
    rejected = clips.pop(3)  # x_test row 0 is all zero: rejected alone, the part's other rows kept
    assert isinstance(rejected, Rejected) and (rejected.path, rejected.line) == (path, 0)
    assert "x_test row 0: every frame is all zero" in rejected.message
    assert [c.name for c in clips] == ["train_000000", "train_000001", "train_000002", "test_000001"]
    assert [c.label for c in clips] == [2, 0, 3, 1]
    assert [len(c.joints) for c in clips] == [7, 12, 3, 5]  # valid length, interior zero frame removed
    assert [c.splits for c in clips] == [{"xview_train": True}] * 3 + [{"xview_train": False}]
    assert clips[3].meta == {"row": 1} and clips[2].joints.dtype == np.float32
    np.testing.assert_array_equal(clips[2].joints, arrays["x_train"][2, [0, 2, 3]].reshape(3, 2, 25, 3))
    for row in (0, 1):  # the other train rows: their valid frames, as stored
        frames = len(clips[row].joints)
        np.testing.assert_array_equal(clips[row].joints, arrays["x_train"][row, :frames].reshape(frames, 2, 25, 3))
    np.testing.assert_array_equal(clips[3].joints, arrays["x_test"][1, :5].reshape(5, 2, 25, 3))
    chunked = list(read_npz_part(path, "train", chunk=2))  # rows across chunk boundaries
    assert [r for r, _, _ in chunked] == [0, 1, 2]
    assert all(np.array_equal(j, c.joints) for (_, _, j), c in zip(chunked[:2], clips[:2], strict=True))


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda a: a.pop("y_test"), "no y_test array (has: x_test, x_train, y_train)"),
    (lambda a: a.__setitem__("y_train", a["y_train"] * 2), "y_train row 0: not a one-hot label"),
    (lambda a: a["y_test"].__setitem__((1, 2), 1.0), "y_test row 1: not a one-hot label"),
    (lambda a: a.__setitem__("x_train", a["x_train"][:, :, :75]),
     "x_train: float32 array of shape (3, 12, 75)"),
    (lambda a: a.__setitem__("y_train", a["y_train"][:2]), "x_train has 3 rows but y_train has 2"),
    (lambda a: a["x_train"].__setitem__((2, 3, 5), np.nan), "x_train row 2: non-finite value"),
    (lambda a: a.__setitem__("x_train", a["x_train"].astype(object)),
     "x_train: object arrays are not supported"),
])
def test_npz_malformed(tmp_path, mangle, message):
    arrays = _npz_arrays()
    mangle(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ParseError) as bad:
        _clips(CtrgcnNpzSource(), path, _params("ctrgcn_npz").ingest)
    assert (bad.value.path, bad.value.line) == (path, 0) and message in bad.value.message


def test_npz_missing_or_not_a_zip(tmp_path):
    message = r"^ingest.input: file .*nope.npz not found; point it at a CTR-GCN"
    with pytest.raises(SkelsslError, match=message):
        CtrgcnNpzSource().items(tmp_path / "nope.npz", _params("ctrgcn_npz").ingest)
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(ParseError, match=r"x.npz:0: not an .npz \(zip\) file"):
        _clips(CtrgcnNpzSource(), tmp_path / "x.npz", _params("ctrgcn_npz").ingest)


# ---------------------------------------------------------------------------- pyskl import


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [_Evil()]}))
    with pytest.raises(ParseError, match=r"evil.pkl:0: not a loadable pickle: refusing to load global "
                                         r"(posix|nt)\.system"):
        load_pickle(path)
    assert not (tmp_path / "pwned").exists()
    path.write_bytes(pickle.dumps(io.BytesIO(b"x")))
    with pytest.raises(ParseError, match=r"refusing to load global _io\.BytesIO"):
        load_pickle(path)


def _annotations(rng):
    return [
        {"frame_dir": "S001C001P001R001A001", "label": np.int64(0), "total_frames": 6,
         "keypoint": rng.normal(size=(2, 6, 25, 3)).astype(np.float32), "img_shape": (1080, 1920)},
        {"frame_dir": "S001C002P003R001A002", "label": 1, "total_frames": np.int64(4),
         "keypoint": rng.normal(size=(1, 4, 25, 3)), "img_shape": (1080, 1920)},
    ]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_import(tmp_path, protocol):
    anns = _annotations(np.random.default_rng(0))
    split = {"xsub_train": ["S001C001P001R001A001"], "xsub_val": ["S001C002P003R001A002"],
             "xview_train": ["S001C002P003R001A002"], "xview_val": ["S001C001P001R001A001"]}
    path = tmp_path / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps({"split": split, "annotations": anns}, protocol=protocol))
    clips = _clips(PysklSource(), path, _params("pyskl").ingest)
    assert [c.name for c in clips] == ["S001C001P001R001A001", "S001C002P003R001A002"]
    assert [c.label for c in clips] == [0, 1] and [c.meta for c in clips] == [{}, {}]
    assert clips[0].splits == {"xsub_train": True, "xview_train": False}
    assert clips[1].splits == {"xsub_train": False, "xview_train": True}
    assert clips[1].joints.shape == (4, 2, 25, 3) and clips[1].joints.dtype == np.float32
    np.testing.assert_array_equal(clips[0].joints, anns[0]["keypoint"].transpose(1, 0, 2, 3))
    np.testing.assert_allclose(clips[1].joints[:, 0], anns[1]["keypoint"][0].astype(np.float32))
    assert not clips[1].joints[:, 1].any()  # one person: the second slot is zero


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda d: d["annotations"][1].__setitem__("keypoint", np.zeros((1, 4, 17, 2))),
     "annotation 1 ('S001C002P003R001A002'): keypoint shape (1, 4, 17, 2)"),
    (lambda d: d["annotations"][0].__setitem__("total_frames", 7),
     "total_frames 7 but keypoint has 6 frames"),
    (lambda d: d["annotations"][1].__setitem__("frame_dir", "S001C001P001R001A001"), "appears twice"),
    (lambda d: d["split"]["xsub_val"].clear(),
     "'S001C002P003R001A002' is in neither xsub_train nor the xsub test list"),
    (lambda d: d["split"]["xsub_val"].append("S001C001P001R001A001"), "is in both xsub_train and xsub_val"),
    (lambda d: d["annotations"][0].__setitem__("label", -1), "label -1 is negative"),
    (lambda d: d["annotations"][0].__setitem__("label", 99999999999999999999), "is too large"),
    (lambda d: d["annotations"][0].__setitem__("label", 1.5), "label must be an integer >= 0"),
    (lambda d: [a.__setitem__("name", "x") for a in d["annotations"]], "key 'name' is reserved"),
    (lambda d: d["annotations"][0].__setitem__("setup", 1),
     "extra keys [] differ from the first annotation's ['setup']"),
    (lambda d: d.pop("split"), "expected a 'split' dict"),
])
def test_pyskl_malformed(tmp_path, mangle, message):
    data = {"split": {"xsub_train": ["S001C001P001R001A001"], "xsub_val": ["S001C002P003R001A002"]},
            "annotations": _annotations(np.random.default_rng(1))}
    mangle(data)
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ParseError) as bad:
        _clips(PysklSource(), path, _params("pyskl").ingest)
    assert (bad.value.path, bad.value.line) == (path, 0) and message in bad.value.message


# ---------------------------------------------------------------------------- round trip


def _ntu_folder(folder: Path) -> None:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True)
    for k, name in enumerate(["S001C001P001R001A001", "S001C002P003R001A002", "S002C003P008R002A003"]):
        frames = 10 + 3 * k
        bodies = 2 if name.endswith("A003") else 1
        seq = []
        for _ in range(frames):
            frame = []
            for b in range(bodies):
                xyz = rng.normal(0, 0.2, (25, 3)) + np.array([float(b), 0.0, 3.0])
                xyz[:, 1] = np.linspace(-0.8, 0.8, 25)
                frame.append(BodyFrame(b + 1, xyz, np.full(25, 2)))
            seq.append(frame)
        write_skeleton(folder / f"{name}.skeleton", seq)


def test_round_trip_ingest_export_import(tmp_path):
    _ntu_folder(tmp_path / "raw")
    ingest.run(_params("ntu"), tmp_path / "raw", tmp_path / "a")
    runner = CliRunner()
    result = runner.invoke(app, ["export-pyskl", str(tmp_path / "a"), str(tmp_path / "x.pkl")])
    assert result.exit_code == 0, result.output
    data = load_pickle(tmp_path / "x.pkl")
    assert sorted(data["split"]) == ["xset_train", "xset_val", "xsub120_train", "xsub120_val",
                                     "xsub_train", "xsub_val", "xview_train", "xview_val"]
    assert data["split"]["xview_val"] == ["S001C001P001R001A001"]
    ann = data["annotations"][2]
    assert ann["frame_dir"] == "S002C003P008R002A003" and ann["keypoint"].shape == (2, 16, 25, 3)
    assert ann["total_frames"] == 16 and ann["setup"] == 2 and ann["label"] == 2
    ingest.run(_params("pyskl"), tmp_path / "x.pkl", tmp_path / "b")
    a, b = (pl.read_parquet(tmp_path / d / "index.parquet") for d in "ab")
    assert a.columns == b.columns and a.equals(b)
    np.testing.assert_array_equal(np.load(tmp_path / "a/joints.npy"), np.load(tmp_path / "b/joints.npy"))
    meta_a, meta_b = (json.loads((tmp_path / d / "meta.json").read_text()) for d in "ab")
    assert meta_a == {**meta_b, "source": "ntu"} and meta_b["source"] == "pyskl"


def test_export_cli_error_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["export-pyskl", str(tmp_path / "nowhere"), str(tmp_path / "x.pkl")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "meta.json: dataset meta not found" in lines[0]
    assert not (tmp_path / "x.pkl").exists()


# ---------------------------------------------------------------------------- issue 11: pyskl zero frames, labels


def _pyskl_file(path: Path, anns) -> Path:
    split = {"xsub_train": [a["frame_dir"] for a in anns]}
    path.write_bytes(pickle.dumps({"split": split, "annotations": anns}))
    return path


def test_pyskl_interior_zero_frames_are_removed(tmp_path):
    anns = _annotations(np.random.default_rng(4))
    kp = anns[0]["keypoint"]
    kp[:, 0] = 0.0  # leading, interior and trailing frames where nobody is tracked
    kp[:, 2] = 0.0
    kp[:, 5] = 0.0
    clips = _clips(PysklSource(), _pyskl_file(tmp_path / "a.pkl", anns), _params("pyskl").ingest)
    assert len(clips[0].joints) == 3  # the clip's real tail (frames 3, 4) is kept, not cut at frame 2
    np.testing.assert_array_equal(clips[0].joints, kp[:, [1, 3, 4]].transpose(1, 0, 2, 3))
    assert clips[0].joints.reshape(3, -1).any(axis=1).all()


def test_pyskl_all_zero_clip_fails_or_is_skipped_alone(tmp_path):
    anns = _annotations(np.random.default_rng(5))
    anns[1]["keypoint"] = np.zeros_like(anns[1]["keypoint"])
    path = _pyskl_file(tmp_path / "a.pkl", anns)
    with pytest.raises(ParseError) as bad:
        ingest.run(_params("pyskl"), path, tmp_path / "failed")
    assert (bad.value.path, bad.value.line) == (path, 0)
    assert "annotation 1 ('S001C002P003R001A002'): every frame is all zero" in bad.value.message
    assert not (tmp_path / "failed").exists()
    ingest.run(_params("pyskl", on_error="skip"), path, tmp_path / "out")
    skipped = pl.read_parquet(tmp_path / "out/skipped.parquet")
    assert skipped["file"].to_list() == [str(path)] and skipped["line"].to_list() == [0]
    assert pl.read_parquet(tmp_path / "out/index.parquet")["name"].to_list() == ["S001C001P001R001A001"]


def test_pyskl_sparse_labels_are_remapped(tmp_path):
    anns = _annotations(np.random.default_rng(6))
    anns[0]["label"], anns[1]["label"] = np.int64(10**7), 4
    path = _pyskl_file(tmp_path / "a.pkl", anns)
    ingest.run(_params("pyskl"), path, tmp_path / "out")
    index = pl.read_parquet(tmp_path / "out/index.parquet")
    assert index["label"].dtype == pl.Int64 and index["label"].to_list() == [1, 0]
    assert index["original_label"].to_list() == [10**7, 4]
