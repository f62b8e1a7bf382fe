"""UTD-MHAD and Penn Action sources, the penn13 layout, pyskl 2D pickles, and the 2D path end to end.

Real files are read in place through the `real_data` fixture (skipped when ../shared/data/real is
absent); the end-to-end tests link a few of them into a temporary folder (symlinks, no copies),
ingest and preprocess them with the pipeline stages, and run one training step of every method.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import METHOD_NAMES, default_params, tiny_method_params
from skelssl.data.sources import SOURCES
from skelssl.data.sources.interchange import PysklSource
from skelssl.data.sources.penn_action import PENN_NAMES, PENN_TO_PENN13, person_scale, repair
from skelssl.data.sources.utd_mhad import UTD_TO_KINECT20
from skelssl.errors import ParseError, SkelsslError
from skelssl.evaluation.streams import motion_magnitude, to_stream
from skelssl.methods import Batch, build_method
from skelssl.pipeline import ingest, preprocess
from skelssl.pipeline.dataset import load_processed
from skelssl.skeleton import COCO17, KINECT20, PENN13, joint_order

FRAMES = 8


def _params(source: str, **ingest_update):
    p = default_params()
    return p.model_copy(update={
        "ingest": p.ingest.model_copy(update={"source": source, "workers": 1, **ingest_update}),
        "preprocess": p.preprocess.model_copy(update={"frames": FRAMES, "align_view": False}),
    })


def _read(source: str, paths, **ingest_update):
    src, cfg = SOURCES[source](), _params(source, **ingest_update).ingest
    return [clip for path in paths for clip in src.read(path, cfg)]


def _link(files: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name).symlink_to(f)
    return folder


# ---------------------------------------------------------------------------- layout and mapping


def test_penn13_layout_and_joint_order():
    assert PENN13.channels == 2 and PENN13.num_joints == 13 and PENN13.joint_names[PENN13.center] == "head"
    assert [PENN13.joint_names[j] for j in PENN13.parts["torso"]] == [
        "shoulder_left", "shoulder_right", "hip_left", "hip_right"]
    # the file's documented "left" joints (1-based 2, 4, ..., 12) are the subject's right
    assert PENN_TO_PENN13 == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11)
    assert [PENN_NAMES[i] for i in PENN_TO_PENN13] == list(PENN13.joint_names)
    # UTD's head-first order: only the first four joints move
    assert UTD_TO_KINECT20 == (3, 2, 1, 0, *range(4, 20))
    with pytest.raises(ValueError, match="missing \\['hip_center'\\], unknown \\['neck'\\]"):
        joint_order(("neck",) + KINECT20.joint_names[1:], KINECT20)
    with pytest.raises(ValueError):
        joint_order(KINECT20.joint_names[:19] + ("spine",), KINECT20)


def test_penn_repair_and_scale():
    xy = np.array([[[0, 0], [1, 1], [5, 5]],
                   [[0, 2], [9, 9], [5, 5]],
                   [[0, 4], [9, 9], [5, 5]],
                   [[0, 6], [4, 4], [5, 5]]], dtype=np.float64)  # (T=4, V=3, 2)
    missing = np.zeros((4, 3), dtype=bool)
    missing[1:3, 1] = True  # joint 1: two frames to interpolate
    missing[:, 2] = True  # joint 2: never annotated
    out = repair(xy, missing, ((1, 0), (2, 1)))
    np.testing.assert_allclose(out[:, 1], [[1, 1], [2, 2], [3, 3], [4, 4]])
    np.testing.assert_array_equal(out[:, 2], out[:, 1])  # its bone neighbour, frame by frame
    np.testing.assert_array_equal(out[:, 0], xy[:, 0])
    with pytest.raises(ValueError, match="no joint"):
        repair(xy, np.ones((4, 3), dtype=bool), ((1, 0), (2, 1)))
    # frames with >= 2 annotated joints (0 and 3): extents max(1, 1) = 1 and max(4, 2) = 4
    assert person_scale(out, missing) == 2.5
    assert person_scale(out, np.ones((4, 3), dtype=bool)) == 0.0


# ---------------------------------------------------------------------------- real files


def test_utd_mhad_real(real_data):
    root = real_data("utd_mhad")
    items = SOURCES["utd_mhad"]().items(root, _params("utd_mhad").ingest)
    names = [p.name.removesuffix("_skeleton.mat") for p in items]
    assert len(names) == 861 and names[:2] == ["a1_s1_t1", "a1_s1_t2"]
    assert names.index("a9_s1_t1") < names.index("a10_s1_t1")  # numeric, not lexical order
    assert not {"a8_s1_t4", "a23_s6_t4", "a27_s8_t4"} & set(names)  # missing from the release
    pick = [items[names.index(n)] for n in ("a1_s1_t1", "a20_s4_t3", "a27_s8_t3")]
    clips = _read("utd_mhad", pick)
    assert [c.label for c in clips] == [0, 19, 26]
    assert [c.splits for c in clips] == [{"xsub_train": True}, {"xsub_train": False}, {"xsub_train": False}]
    assert clips[1].meta == {"action": 20, "subject": 4, "trial": 3}
    assert clips[1].joints.shape == (41, 1, 20, 3) and clips[1].joints.dtype == np.float32  # shortest clip
    from scipy.io import loadmat

    raw = loadmat(pick[0])["d_skel"].transpose(2, 0, 1)  # (T, 20, 3), UTD order
    np.testing.assert_allclose(clips[0].joints[:, 0], raw[:, UTD_TO_KINECT20], rtol=1e-6)
    j = np.concatenate([c.joints[:, 0] for c in clips])
    names20 = KINECT20.joint_names
    mean = {n: j[:, names20.index(n)].mean(axis=0) for n in names20}
    assert mean["head"][1] > mean["shoulder_center"][1] > mean["spine"][1] > mean["hip_center"][1]
    assert mean["foot_left"][1] < -0.5 < 0.2 < mean["head"][1]  # metres, y up
    assert mean["shoulder_left"][0] < mean["shoulder_right"][0]  # Kinect v1 SDK, as UTKinect
    assert 1.0 < j[..., 2].min() and j[..., 2].max() < 5.0  # z: depth from the sensor


def test_penn_action_real(real_data):
    root = real_data("penn_action")
    items = SOURCES["penn_action"]().items(root, _params("penn_action").ingest)
    assert len(items) == 2326 and items[0].name == "0001.mat"
    folder = items[0].parent
    clips = {c.name: c for c in _read("penn_action", [folder / f"{n}.mat" for n in ("0634", "1037", "1135")])}
    bowl, front, side = clips["0634"], clips["1037"], clips["1135"]
    assert (bowl.label, bowl.meta["action"], bowl.splits) == (3, "bowl", {"official_train": False})
    assert (front.label, front.meta["pose"], front.splits) == (7, "front", {"official_train": True})
    for clip in clips.values():
        assert clip.joints.dtype == np.float32 and clip.joints.shape[1:] == (1, 13, 2)
        assert np.isfinite(clip.joints).all() and np.abs(clip.joints).max() < 5  # person-size units
    assert bowl.joints.shape[0] == 55  # x stored as uint8: cast before arithmetic, no wrap-around
    # y up: the head above both ankles in every frame of the upright jumping-jacks clip
    j = front.joints[:, 0]
    assert (j[:, 0, 1] > j[:, 11, 1]).all() and (j[:, 0, 1] > j[:, 12, 1]).all()
    # anatomical sides: facing the camera, the subject's left shoulder is on the image right
    assert (j[:, 1, 0] > j[:, 2, 0]).mean() > 0.9
    assert front.meta["filled"] == 0 and bowl.meta["filled"] == 0
    # side view: one whole side (the documented "right" joints) is the (1, 1) placeholder → every
    # such joint sits on its bone neighbour (shoulder on head, elbow on shoulder, ...)
    assert side.meta["filled"] == 6 * side.joints.shape[0]
    s = side.joints[:, 0]
    names = PENN13.joint_names
    for joint, neighbour in (("shoulder_left", "head"), ("elbow_left", "shoulder_left"),
                             ("wrist_left", "elbow_left"), ("hip_left", "shoulder_left"),
                             ("knee_left", "hip_left"), ("ankle_left", "knee_left")):
        np.testing.assert_array_equal(s[:, names.index(joint)], s[:, names.index(neighbour)])
    assert not np.array_equal(s[:, names.index("ankle_right")], s[:, names.index("knee_right")])


# ---------------------------------------------------------------------------- pyskl 2D


def _pyskl_2d(path: Path) -> dict:
    rng = np.random.default_rng(0)
    kp = rng.uniform(100, 1000, size=(3, 5, 17, 2)).astype(np.float16)  # 3 persons: pyskl keeps 2
    score = rng.uniform(0.2, 1.0, size=(3, 5, 17)).astype(np.float16)
    kp[1, 3:] = 0  # person 2 absent in frames 3-4 (pyskl pads with zeros, score 0)
    score[1, 3:] = 0
    score[1, 2] = 0  # a frame whose scores are all 0: absent, coordinates or not
    kp[0, 4] = 0
    score[0, 4] = 0  # frame 4: nobody → removed
    kp[0, 0, 3] = (1.0, 2.0)  # a low-score keypoint keeps its position
    score[0, 0, 3] = 0.01
    anns = [{"frame_dir": "clip_a", "label": 1, "total_frames": 5, "keypoint": kp, "keypoint_score": score,
             "img_shape": (1080, 1920)},
            {"frame_dir": "clip_b", "label": 0, "total_frames": 3,
             "keypoint": rng.uniform(0, 400, size=(1, 3, 17, 2)).astype(np.float32)}]
    data = {"split": {"xsub_train": ["clip_a"], "xsub_val": ["clip_b"]}, "annotations": anns}
    path.write_bytes(pickle.dumps(data, protocol=4))
    return data


def test_pyskl_2d_pickle(tmp_path):
    data = _pyskl_2d(tmp_path / "ntu60_hrnet.pkl")
    clips = _read("pyskl", [tmp_path / "ntu60_hrnet.pkl"], layout="coco17")
    a, b = clips
    assert (a.name, a.label, a.splits, b.splits) == ("clip_a", 1, {"xsub_train": True}, {"xsub_train": False})
    assert a.joints.shape == (4, 2, 17, 2) and b.joints.shape == (3, 2, 17, 2)  # frame 4 removed
    kp = data["annotations"][0]["keypoint"].astype(np.float32)
    want = np.stack([(kp[..., 0] - 960) / 540, (540 - kp[..., 1]) / 540], axis=-1)  # centred, y up
    np.testing.assert_allclose(a.joints[:, 0], want[0, :4], rtol=1e-6)
    np.testing.assert_allclose(a.joints[:2, 1], want[1, :2], rtol=1e-6)
    assert not a.joints[2:, 1].any()  # all-zero scores (frame 2) and zero keypoints (frame 3): absent
    np.testing.assert_allclose(a.joints[0, 0, 3], [(1 - 960) / 540, (540 - 2) / 540], rtol=1e-6)
    kb = data["annotations"][1]["keypoint"][0]  # no img_shape: pyskl's default 1080 × 1920
    np.testing.assert_allclose(b.joints[:, 0, :, 0], (kb[..., 0] - 960) / 540, rtol=1e-5)
    np.testing.assert_allclose(b.joints[:, 0, :, 1], (540 - kb[..., 1]) / 540, rtol=1e-5)  # y up
    assert not b.joints[:, 1].any()
    with pytest.raises(ParseError, match="set ingest.layout: coco17"):
        _read("pyskl", [tmp_path / "ntu60_hrnet.pkl"])  # auto = the 3D NTU pickles
    with pytest.raises(SkelsslError, match="ingest.layout: the pyskl source reads ntu25 or coco17"):
        PysklSource().items(tmp_path / "ntu60_hrnet.pkl", _params("pyskl", layout="kinect20").ingest)
    data["annotations"][0]["keypoint_score"] = np.ones((3, 5, 16), dtype=np.float32)
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(data))
    with pytest.raises(ParseError, match="keypoint_score must be a float"):
        _read("pyskl", [tmp_path / "bad.pkl"], layout="coco17")

    params = _params("pyskl", layout="coco17")
    ingest.run(params, tmp_path / "ntu60_hrnet.pkl", tmp_path / "ingested")
    assert json.loads((tmp_path / "ingested" / "meta.json").read_text())["layout"] == "coco17"
    preprocess.run(params, tmp_path / "ingested", tmp_path / "processed")
    processed = load_processed(tmp_path / "processed")
    assert processed.layout is COCO17 and processed.x.shape == (2, 2, FRAMES, 17, 2)


# ---------------------------------------------------------------------------- end to end


def _ingest_preprocess(source: str, files: list[Path], tmp: Path):
    params = _params(source)
    ingest.run(params, _link(files, tmp / f"{source}_raw"), tmp / f"{source}_ingested")
    preprocess.run(params, tmp / f"{source}_ingested", tmp / f"{source}_processed")
    return load_processed(tmp / f"{source}_processed")


def _train_step(name: str, layout, x: torch.Tensor, motion: torch.Tensor) -> None:
    torch.manual_seed(0)
    method = build_method(name, tiny_method_params(name), layout, FRAMES)
    method.train()
    out = method(Batch(x, motion), torch.Generator().manual_seed(1))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss), (name, layout.name)
    out.loss.backward()
    grads = [p.grad for p in method.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads), (name, layout.name)
    method.after_step(1, 10)
    with torch.no_grad():
        features = method.export_encoder().eval()(x)
    assert features.shape[0] == len(x) and torch.isfinite(features).all()


def test_real_2d_and_utd_end_to_end_every_method(real_data, tmp_path):
    """A few real Penn Action clips (2D, penn13) and UTD-MHAD clips (3D, kinect20) through ingest
    and preprocess; one training step of every method on their joints, and on the 2D bone and
    motion streams (body-part, central-spatial and motion-aware masks, graphs on 13 joints)."""
    penn = real_data("penn_action") / "labels"
    utd = real_data("utd_mhad") / "skeleton"
    # classes and splits mixed; 0634 stores uint8 x, 1135 and 1891 have whole joints as placeholders
    penn_files = [penn / f"{n}.mat" for n in ("0001", "0634", "1037", "1135", "1891")]
    data = _ingest_preprocess("penn_action", penn_files, tmp_path)
    assert data.layout is PENN13 and data.x.shape == (5, 1, FRAMES, 13, 2)
    assert torch.isfinite(data.x).all()
    assert data.index["official_train"].to_list() == [False, False, True, False, False]
    assert data.x[:, 0, 0, PENN13.center].abs().max() < 0.25  # centred on the head (before the crop)
    for name in METHOD_NAMES:
        _train_step(name, PENN13, data.x, data.motion)
        for stream in ("bone", "motion"):
            s = to_stream(data.x, stream, PENN13)
            _train_step(name, PENN13, s, motion_magnitude(s, PENN13))

    utd_files = [utd / f"a{a}_s{s}_t1_skeleton.mat" for a, s in ((1, 1), (5, 2), (27, 3))]
    data3d = _ingest_preprocess("utd_mhad", utd_files, tmp_path)
    assert data3d.layout is KINECT20 and data3d.x.shape == (3, 1, FRAMES, 20, 3)
    for name in METHOD_NAMES:
        _train_step(name, KINECT20, data3d.x, data3d.motion)
