import json

import numpy as np
import pytest
import torch

from skelssl.backbones import backbone_spec, random_backbone
from skelssl.evaluation.features import extract_features
from skelssl.evaluation.linear import linear_probe
from skelssl.evaluation.streams import ensemble, motion_magnitude, to_stream
from skelssl.io import load_encoder
from skelssl.pipeline.dataset import load_processed
from skelssl.repro import derive_seed, torch_generator
from skelssl.kernels import motion as kernel_motion
from skelssl.kernels import motion_magnitude as kernel_motion_magnitude
from skelssl.pipeline import streams as streams_stage
from skelssl.skeleton import NTU25, Layout
from tiny_eval import FRAMES, TRAIN, tiny_encoder, tiny_params, tiny_processed

torch.set_num_threads(1)

# a 4-joint chain 0 ← 1 ← 2 and 3 hanging off 1; joint 0 is the root (nobody's child)
CHAIN = Layout(name="chain", joint_names=("a", "b", "c", "d"), bones=((1, 0), (2, 1), (3, 1)),
               center=0, graph_center=0)


def _clip() -> torch.Tensor:
    """(1, 2, 3, 4, 2): person 0 present in all frames, person 1 only in frame 1."""
    x = torch.zeros(1, 2, 3, 4, 2)
    for t in range(3):
        for v in range(4):
            x[0, 0, t, v] = torch.tensor([10.0 * v + t, float(v * v - t)])
    x[0, 1, 1] = torch.tensor([[1.0, 1.0], [2.0, 3.0], [4.0, 7.0], [0.5, 0.5]])
    return x


def test_bone_stream_is_child_minus_parent_and_root_zero():
    x = _clip()
    bone = to_stream(x, "bone", CHAIN)
    assert bone.shape == x.shape
    assert torch.equal(bone[..., 0, :], torch.zeros(1, 2, 3, 2))  # the root
    assert torch.equal(bone[0, 0, 2, 1], torch.tensor([10.0, 1.0]))  # (12, -1) - (2, -2)
    assert torch.equal(bone[0, 0, 2, 2], torch.tensor([10.0, 3.0]))  # (22, 2) - (12, -1)
    assert torch.equal(bone[0, 0, 2, 3], torch.tensor([20.0, 8.0]))  # (32, 7) - (12, -1)
    assert torch.equal(bone[0, 1, 1], torch.tensor([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [-1.5, -2.5]]))
    assert torch.equal(bone[0, 1, 0], torch.zeros(4, 2))  # absent person stays zero


def test_motion_stream_is_frame_difference_last_frame_and_absent_zero():
    x = _clip()
    motion = to_stream(x, "motion", CHAIN)
    assert torch.equal(motion[0, 0, 0], x[0, 0, 1] - x[0, 0, 0])
    assert torch.equal(motion[0, 0, 0, 3], torch.tensor([1.0, -1.0]))
    assert torch.equal(motion[0, 0, 2], torch.zeros(4, 2))  # last frame
    assert torch.equal(motion[0, 1], torch.zeros(3, 4, 2))  # person 1 is never present twice in a row


def test_motion_stream_matches_the_preprocess_kernels():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 6, 25, 3, generator=gen)
    x[1, 1] = 0.0  # absent second person
    x[2, 0, 3] = 0.0  # person 0 missing in frame 3
    ours = to_stream(x, "motion", NTU25)
    mag = motion_magnitude(x, NTU25)
    for i in range(3):
        sample = x[i].permute(1, 0, 2, 3).numpy()  # (T, M, V, C)
        ref = torch.from_numpy(kernel_motion(sample)).permute(1, 0, 2, 3)
        assert torch.equal(ours[i], ref)
        ref_mag = torch.from_numpy(kernel_motion_magnitude(sample)).permute(1, 0, 2)
        torch.testing.assert_close(mag[i], ref_mag, rtol=1e-6, atol=1e-6)


def test_joint_stream_is_identity_and_unknown_stream_fails():
    x = _clip()
    assert to_stream(x, "joint", CHAIN) is x
    with pytest.raises(ValueError, match="unknown stream 'velocity'"):
        to_stream(x, "velocity", CHAIN)
    with pytest.raises(ValueError, match=r"\(N, M, T, 25, C\)"):
        to_stream(x, "bone", NTU25)


def test_ensemble_sums_softmax_probabilities():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
    same = ensemble({"joint": logits, "bone": logits.clone(), "motion": logits.clone()})
    assert torch.equal(same.argmax(dim=1), logits.argmax(dim=1))
    torch.testing.assert_close(same, 3 * logits.softmax(dim=1))
    # a confident stream outvotes an unsure one
    mixed = ensemble({"a": torch.tensor([[0.0, 10.0]]), "b": torch.tensor([[0.2, 0.0]])})
    assert mixed.argmax().item() == 1
    with pytest.raises(ValueError, match="at least one stream"):
        ensemble({})


# ------------------------------------------------------------------------ tiny end-to-end run


def test_streams_stage_writes_every_stream_and_the_ensemble(tmp_path, monkeypatch):
    params = tiny_params(streams={"epochs": 1})
    tiny_processed(tmp_path / "processed")
    tiny_encoder(tmp_path / "encoder.pt", params)
    calls = []

    def recording_pretrain(method, x, motion, cfg, *args, **kwargs):
        calls.append((x, motion, cfg.epochs))
        return real_pretrain(method, x, motion, cfg, *args, **kwargs)

    real_pretrain = streams_stage.pretrain
    monkeypatch.setattr(streams_stage, "pretrain", recording_pretrain)
    torch.manual_seed(7)
    streams_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "out")
    monkeypatch.undo()
    assert [epochs for _, _, epochs in calls] == [1, 1]  # bone and motion; joint is not retrained
    joints = torch.from_numpy(np.load(tmp_path / "processed" / "joints.npy"))[:TRAIN]
    for (x, motion, _), stream in zip(calls, ("bone", "motion")):
        assert torch.equal(x, to_stream(joints, stream, NTU25))
        assert torch.equal(motion, motion_magnitude(x, NTU25))  # the prior of the stream's own input
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert list(metrics) == ["joint", "bone", "motion", "ensemble", "random_init"]
    baseline = metrics.pop("random_init")
    assert list(baseline) == ["joint", "bone", "motion", "ensemble"]
    n_test = 36 - TRAIN
    for value in [*metrics.values(), *baseline.values()]:
        assert isinstance(value, float) and 0.0 <= value <= 100.0
        assert round(value * n_test / 100) == pytest.approx(value * n_test / 100, abs=0.01)  # k/12 clips
    # the random-init joint stream is the evaluate stage's random-init linear probe (same encoder,
    # same recipe, same generator key)
    checkpoint = load_encoder(tmp_path / "encoder.pt")
    encoder = random_backbone(checkpoint["backbone"], derive_seed(params.base.seed, "random_init"))
    data = load_processed(tmp_path / "processed")
    tr, _, ty = data.split("xsub", True)
    te, _, ey = data.split("xsub", False)
    cpu = torch.device("cpu")
    f_train, f_test = extract_features(encoder, tr, 16, cpu), extract_features(encoder, te, 16, cpu)
    probe = linear_probe(f_train, ty, f_test, ey, 3, params.evaluate.linear,
                         torch_generator(params.base.seed, "linear"))
    assert baseline["joint"] == round(probe.top1, 2)
    again = tmp_path / "again"
    torch.manual_seed(8)  # the global RNG must not matter
    streams_stage.run(tiny_params(streams={"epochs": 1, "streams": ["bone"]}), tmp_path / "processed", tmp_path / "missing.pt", again)
    single = json.loads((again / "metrics.json").read_text())
    # deterministic; no joint encoder read, yet the same random-init encoder: the spec built from
    # the method's backbone block is the checkpoint's
    assert backbone_spec(params.method_params.backbone, NTU25, FRAMES) == checkpoint["backbone"]
    assert single == {"bone": metrics["bone"], "ensemble": metrics["bone"],
                      "random_init": {"bone": baseline["bone"], "ensemble": baseline["bone"]}}
