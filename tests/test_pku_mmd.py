"""PKU-MMD source (methods.md §8.2, §7.4): tiny self-made folders, malformed input, missing folders,
and the real phase-I fixture (shared/data/real/pku_mmd_v1, read in place through `real_data`)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from ruamel.yaml import YAML

from helpers import ROOT, default_params
from skelssl.data.sources.pku_mmd import VIDEO_NAME, PKUMMDSource, read_labels, read_split
from skelssl.errors import ParseError, SkelsslError
from skelssl.pipeline import ingest

SPLIT_HEADERS = ("Training videos: ", "Validataion videos: ")


def _cfg(**pku):
    params = default_params()
    return params.ingest.model_copy(update={"source": "pku_mmd",
                                            "pku_mmd": params.ingest.pku_mmd.model_copy(update=pku)})


def _skeleton(frames: int, seed: int, two: bool = False) -> np.ndarray:
    """(frames, 150): person 1 random, person 2 zero unless `two`; row k has x of joint 1 = k."""
    x = np.random.default_rng(seed).normal(0, 0.5, (frames, 2, 25, 3)).round(4)
    x[:, 0, 0, 0] = np.arange(frames)  # frame number, to check which rows a clip took
    if not two:
        x[:, 1] = 0
    return x.reshape(frames, 150)


def _write_split(path: Path, train: list[str], test: list[str]) -> None:
    path.write_text(f"{SPLIT_HEADERS[0]}\n{', '.join(train)}, \n{SPLIT_HEADERS[1]}\n{', '.join(test)},\n")


def _dataset(root: Path, videos: dict[str, tuple[np.ndarray, str]], xsub_train=(), xview_train=(),
             split_names=("cross-subject.txt", "cross-view.txt")) -> Path:
    for sub in ("skeleton", "label", "split"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for video, (skel, labels) in videos.items():
        np.savetxt(root / "skeleton" / f"{video}.txt", skel, fmt="%.6f")
        (root / "label" / f"{video}.txt").write_text(labels)
    names = sorted(videos)
    _write_split(root / "split" / split_names[0], [v for v in names if v in xsub_train],
                 [v for v in names if v not in xsub_train])
    _write_split(root / "split" / split_names[1], [v for v in names if v in xview_train],
                 [v for v in names if v not in xview_train])
    return root


def _read_all(root: Path, cfg) -> list:
    source = PKUMMDSource()
    return [clip for item in source.items(root, cfg) for clip in source.read(item, cfg)]


def test_one_clip_per_labelled_action(tmp_path):
    a, b = _skeleton(120, 0), _skeleton(90, 1, two=True)
    root = _dataset(tmp_path, {
        "0002-L": (a, "4,11,40,2\n40,50,79,1\n"),
        "0002-M": (b, "12,1,30,0\n51,31,90,2\n\n"),
    }, xsub_train={"0002-L", "0002-M"}, xview_train={"0002-L"})
    clips = _read_all(root, _cfg())
    assert [c.name for c in clips] == ["0002-L_11-40", "0002-L_50-79", "0002-M_1-30", "0002-M_31-90"]
    assert [c.label for c in clips] == [3, 39, 11, 50]
    assert [len(c.joints) for c in clips] == [30, 30, 30, 60]  # 1-based inclusive ranges
    assert clips[0].joints.dtype == np.float32 and clips[0].joints.shape == (30, 2, 25, 3)
    np.testing.assert_array_equal(clips[0].joints.reshape(30, 150), a[10:40].astype(np.float32))
    assert clips[0].joints[0, 0, 0, 0] == 10 and clips[3].joints[-1, 0, 0, 0] == 89
    assert clips[0].splits == {"xsub_train": True, "xview_train": True}
    assert clips[2].splits == {"xsub_train": True, "xview_train": False}
    assert clips[1].meta == {"video": "0002-L", "view": "L", "start": 50, "end": 79, "confidence": 1,
                             "actors": 1, "frames_removed": 0}
    assert clips[2].meta["actors"] == 2 and clips[2].meta["view"] == "M"
    assert not clips[0].joints[:, 1].any()  # second_person: zeros (default)


def test_crlf_files_and_no_final_newline(tmp_path):
    skel = _skeleton(30, 2)
    root = _dataset(tmp_path, {"0003-L": (skel, "")})
    (root / "skeleton/0003-L.txt").write_bytes(
        "\r\n".join(" ".join(f"{v:.4f}" for v in row) for row in skel).encode())
    (root / "label/0003-L.txt").write_bytes(b"9,3,12,2\r\n10,20,30,2")
    clips = _read_all(root, _cfg())
    got = [(c.name, c.label, len(c.joints)) for c in clips]
    assert got == [("0003-L_3-12", 8, 10), ("0003-L_20-30", 9, 11)]
    np.testing.assert_allclose(clips[1].joints.reshape(11, 150), skel[19:30], atol=1e-6)


def test_mamp_slicing_drops_the_first_labelled_frame(tmp_path):
    root = _dataset(tmp_path, {"0002-L": (_skeleton(60, 0), "4,11,40,2\n")}, xsub_train={"0002-L"})
    (clip,) = _read_all(root, _cfg(frames="mamp"))
    assert len(clip.joints) == 29 and clip.joints[0, 0, 0, 0] == 11


def test_edge_ranges_zero_frames_and_copy(tmp_path, caplog):
    skel = _skeleton(50, 0)
    skel[20:23] = 0  # three empty frames inside the second instance
    labels = "1,0,9,2\n2,15,30,2\n3,45,60,2\n4,30,20,2\n5,49,50,2\n"
    root = _dataset(tmp_path, {"0002-R": (skel, labels)})
    cfg = _cfg()
    with caplog.at_level("WARNING", logger="skelssl"):
        clips = _read_all(root, cfg)
    assert [c.name for c in clips] == ["0002-R_0-9", "0002-R_15-30", "0002-R_45-60", "0002-R_49-50"]
    assert len(clips[0].joints) == 9 and clips[0].joints[0, 0, 0, 0] == 0  # start 0 read as frame 1
    assert len(clips[1].joints) == 13 and clips[1].meta["frames_removed"] == 3
    assert len(clips[2].joints) == 6 and clips[2].joints[-1, 0, 0, 0] == 49  # cut at the last frame
    assert "label/0002-R.txt:3: end frame 60 beyond the 50 frames" in caplog.text
    assert "label/0002-R.txt:4: empty frame range 30-20; instance left out" in caplog.text
    copied = _read_all(root, cfg.model_copy(update={"second_person": "copy"}))
    assert np.array_equal(copied[1].joints[:, 1], copied[1].joints[:, 0]) and copied[1].meta["actors"] == 1


def test_phase_two_names_and_split_files(tmp_path):
    root = _dataset(tmp_path, {"A01N01-L": (_skeleton(40, 0), "7,5,20,2\n")}, xview_train={"A01N01-L"},
                    split_names=("cross_subject_v2.txt", "cross_view_v2.txt"))
    np.savetxt(root / "skeleton" / "0002-L.txt", _skeleton(10, 3))  # a phase-I name: not phase II
    (clip,) = _read_all(root, _cfg(phase=2))
    assert clip.name == "A01N01-L_5-20" and clip.splits == {"xsub_train": False, "xview_train": True}
    message = r"^ingest.pku_mmd.splits: no cross-subject.txt or cross_subject.txt in "
    with pytest.raises(SkelsslError, match=message):
        _read_all(root, _cfg(phase=1))


# ---------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(("mangle", "line", "message"), [
    (lambda rows: rows[:3] + [rows[3].rsplit(" ", 1)[0]] + rows[4:], 4, "149 values, expected 150"),
    (lambda rows: rows[:6] + [rows[6].replace(" ", " x ", 1)] + rows[7:], 7, "151 values, expected 150"),
    (lambda rows: rows[:2] + [rows[2].replace(" ", " 1.2.3 ", 1).rsplit(" ", 1)[0]] + rows[3:], 3,
     "not a number: '1.2.3'"),
    (lambda rows: rows[:5] + ["nan " + rows[5].split(" ", 1)[1]] + rows[6:], 6, "non-finite value 'nan'"),
    (lambda rows: rows[:8] + [""] + rows[8:], 9, "0 values, expected 150"),
])
def test_malformed_skeleton_names_file_and_line(tmp_path, mangle, line, message):
    root = _dataset(tmp_path, {"0002-L": (_skeleton(20, 0), "4,2,10,2\n")})
    path = root / "skeleton/0002-L.txt"
    path.write_text("\n".join(mangle(path.read_text().splitlines())) + "\n")
    source, cfg = PKUMMDSource(), _cfg()
    with pytest.raises(ParseError) as bad:
        source.read(source.items(root, cfg)[0], cfg)
    assert (bad.value.path, bad.value.line) == (path, line)
    assert message in bad.value.message


@pytest.mark.parametrize(("labels", "line", "message"), [
    ("4,2,10,2\n5,2,10\n", 2, "expected 4 comma-separated fields"),
    ("4,2,10,2\n\n5,x,10,2\n", 3, "not an integer in '5,x,10,2'"),
    ("52,2,10,2\n", 1, "class 52 is outside 1..51"),
    ("0,2,10,2\n", 1, "class 0 is outside 1..51"),
    ("3,-2,10,2\n", 1, "negative frame number"),
    ("4,2,10,2\n5,2,10,1\n", 2, "frame range 2-10 repeats line 1"),
    ("\n\n", 1, "no action instances"),
])
def test_malformed_labels_name_file_and_line(tmp_path, labels, line, message):
    root = _dataset(tmp_path, {"0002-L": (_skeleton(20, 0), labels)})
    source, cfg = PKUMMDSource(), _cfg()
    with pytest.raises(ParseError) as bad:
        source.read(source.items(root, cfg)[0], cfg)
    assert (bad.value.path, bad.value.line) == (root / "label/0002-L.txt", line)
    assert message in bad.value.message


@pytest.mark.parametrize(("text", "line", "message"), [
    ("0002-L, 0002-M\nVal:\n0003-L\n", 1, "expected a header line"),
    ("Training videos:\n0002-L, 2-L\nVal:\n0003-L\n", 2, "'2-L' is not a video name of this phase"),
    ("Training videos:\n0002-L\n", 0, "found 1 header line(s); expected 2"),
    ("Training videos:\n0002-L\nVal:\n0003-L\nMore:\n", 5, "a third header"),
    ("Training videos:\n0002-L\nVal:\n0003-L, 0002-L\n", 0, "0002-L is in both"),
])
def test_malformed_split_file(tmp_path, text, line, message):
    path = tmp_path / "cross-view.txt"
    path.write_text(text)
    with pytest.raises(ParseError) as bad:
        read_split(path, VIDEO_NAME[1])
    assert (bad.value.path, bad.value.line) == (path, line) and message in bad.value.message


def test_video_in_no_split_list_and_missing_label_file(tmp_path):
    root = _dataset(tmp_path, {"0002-L": (_skeleton(20, 0), "4,2,10,2\n")})
    np.savetxt(root / "skeleton/0009-M.txt", _skeleton(20, 1))  # no label file, in no split list
    source, cfg = PKUMMDSource(), _cfg()
    items = source.items(root, cfg)
    assert [i.video for i in items] == ["0002-L", "0009-M"]
    message = r"0009-M.txt:0: video 0009-M is in neither list of .*cross-subject.txt"
    with pytest.raises(ParseError, match=message):
        source.read(items[1], cfg)
    _write_split(root / "split/cross-subject.txt", ["0009-M"], ["0002-L"])
    _write_split(root / "split/cross-view.txt", ["0009-M"], ["0002-L"])
    with pytest.raises(ParseError, match=r"0009-M.txt:0: no label file .*label/0009-M.txt"):
        source.read(source.items(root, cfg)[1], cfg)


@pytest.mark.parametrize(("setup", "update", "message"), [
    (lambda root: None, {},
     r"^ingest.input: folder .*nowhere not found; point it at the PKU-MMD phase 1 folder"),
    (lambda root: (root / "skeleton").mkdir(parents=True), {},
     r"^ingest.pku_mmd.labels: no label folder in .* \(looked for label, Label, labels, "),
    (lambda root: [(root / d).mkdir(parents=True) for d in ("skeleton", "label")], {},
     r"^ingest.pku_mmd.splits: no split folder in "),
    (lambda root: [(root / d).mkdir(parents=True) for d in ("skeleton", "label", "split")],
     {"labels": "Labels_v1"}, r"^ingest.pku_mmd.labels: label folder .*Labels_v1 not found$"),
    (lambda root: [(root / d).mkdir(parents=True) for d in ("skeleton", "label", "split")], {},
     r"^ingest.input: no PKU-MMD phase 1 skeleton files \(e.g. 0002-L.txt\) in "),
])
def test_missing_folders_name_the_param(tmp_path, setup, update, message):
    root = tmp_path / "nowhere"
    setup(root)
    with pytest.raises(SkelsslError, match=message) as err:
        PKUMMDSource().items(root, _cfg(**update))
    assert "\n" not in str(err.value)


def _cli_ingest(tmp_path, input_dir):
    data = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    data["ingest"]["source"] = "pku_mmd"
    params = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(data, params)
    cmd = [sys.executable, "-m", "skelssl", "ingest", str(input_dir), str(tmp_path / "out"),
           "--params", str(params)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_cli_reports_one_line_for_bad_labels(tmp_path):
    root = _dataset(tmp_path / "pku", {"0002-L": (_skeleton(20, 0), "4,2,10,2\n4;3;11;2\n")})
    run = _cli_ingest(tmp_path, root)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    want = (f"error: {root / 'label/0002-L.txt'}:2: expected 4 comma-separated fields "
            "(class,start,end,confidence), got 1")
    assert run.stderr.strip().splitlines()[-1] == want
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- real phase-I data

# SOURCE.md: per skeleton file, the classes of its labelled instances and its split sides.
REAL = {
    "0160-M": ([4, 5, 7, 9, 11, 13, 15, 17, 22, 31, 40, 41, 42, 43, 44, 45], True, False),
    "0312-R": ([1, 2, 6, 17, 22, 23, 25, 30, 32, 33, 34, 38, 41, 42, 43, 44, 45, 46, 50], False, True),
    "0105-L": ([12, 14, 16, 18, 21, 24, 26, 27], True, True),
    "0105-M": ([12, 14, 16, 18, 21, 24, 26, 27], True, False),
    "0105-R": ([12, 14, 16, 18, 21, 24, 26, 27], True, True),
}


def test_real_phase1_clips(real_data, tmp_path):
    root = real_data("pku_mmd_v1")
    params = default_params()
    params = params.model_copy(update={"ingest": _cfg()})
    ingest.run(params, root, tmp_path / "out")
    index = pl.read_parquet(tmp_path / "out/index.parquet")
    joints = np.load(tmp_path / "out/joints.npy")
    assert index.height == 59 and joints.shape == (int(index["frames"].sum()), 2, 25, 3)
    for video, (classes, xsub, xview) in REAL.items():
        rows = index.filter(pl.col("video") == video)
        assert sorted((rows["label"] + 1).to_list()) == classes, video  # one clip per instance
        assert set(rows["xsub_train"]) == {xsub} and set(rows["xview_train"]) == {xview}
        assert set(rows["actors"]) == ({2} if video.startswith("0105") else {1})
    assert index["label"].n_unique() == 36 and index["label"].max() == 49  # 36 of 51 classes covered
    assert (index["frames"] == index["end"] - index["start"] + 1).all()  # no zero frames in these files
    assert index["frames_removed"].sum() == 0 and index.filter(pl.col("start") < 1).height == 0
    first = index.filter(pl.col("name") == "0160-M_151-224").row(0, named=True)
    raw = np.loadtxt(root / "skeleton/0160-M.txt", dtype=np.float32)[150:224]
    assert first["label"] == 3 and first["frames"] == 74
    np.testing.assert_array_equal(joints[first["offset"]:first["offset"] + 74].reshape(74, 150), raw)


def test_real_phase1_all_label_and_split_files(real_data):
    root = real_data("pku_mmd_v1")
    files = sorted((root / "label").glob("*.txt"))
    rows = [r for f in files for r in read_labels(f)]
    assert len(files) == 1076 and len(rows) == 21_545  # SOURCE.md: the official v1 total
    assert Counter(r.confidence for r in rows) == {2: 20_887, 1: 523, 0: 135}
    assert {r.cls for r in rows} == set(range(1, 52))
    assert sum(r.start == 0 for r in rows) == 3 and sum(r.end < r.start for r in rows) == 1
    xsub = read_split(root / "split/cross-subject.txt", VIDEO_NAME[1])
    xview = read_split(root / "split/cross-view.txt", VIDEO_NAME[1])
    assert (len(xsub[0]), len(xsub[1])) == (944, 132) and (len(xview[0]), len(xview[1])) == (717, 359)
    assert xsub[0] | xsub[1] == xview[0] | xview[1] == {f.stem for f in files}
