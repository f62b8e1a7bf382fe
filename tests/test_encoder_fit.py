"""An encoder that cannot read the processed data, or method settings the data cannot take, end
with one line naming the file or the params key: never a traceback from deep inside the model."""

from __future__ import annotations


import pytest
import torch
from ruamel.yaml import YAML

from helpers import invoke_cli, one_error_line
from skelssl.backbones import backbone_spec, build_backbone
from skelssl.io import save_encoder
from skelssl.skeleton import LAYOUTS, NTU25
from tiny_eval import FRAMES, tiny_params, tiny_processed


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    YAML(typ="safe", pure=True).dump(tiny_params().model_dump(mode="json"), tmp_path / "params.yaml")
    tiny_processed(tmp_path / "processed")  # ntu25, FRAMES frames
    return tmp_path


def _encoder(path, layout=NTU25, frames=FRAMES):
    cfg = tiny_params().methods.skeleton2vec.backbone
    torch.manual_seed(0)
    save_encoder(path, build_backbone(cfg, layout, frames).state_dict(), backbone_spec(cfg, layout, frames),
                 {"method": "skeleton2vec"})


@pytest.mark.parametrize("command", ["evaluate", "finetune", "semi", "robustness", "streams", "embedding"])
def test_an_encoder_of_other_frames_is_refused_in_one_line(home, command):
    _encoder(home / "enc16.pt", frames=2 * FRAMES)
    line = one_error_line(invoke_cli([command, "processed", "enc16.pt", "out"]))
    assert line.startswith("error: enc16.pt: this encoder does not fit processed"), line
    assert f"clips of {2 * FRAMES} frames (the data: {FRAMES}" in line, line
    assert not (home / "out").exists()


def test_an_encoder_of_another_layout_is_refused_in_one_line(home):
    _encoder(home / "enc20.pt", layout=LAYOUTS["kinect20"])
    line = one_error_line(invoke_cli(["evaluate", "processed", "enc20.pt", "out"]))
    assert "the kinect20 layout with 3 coordinates (the data: ntu25, 3)" in line, line


def test_the_encoder_that_fits_runs(home):
    _encoder(home / "enc.pt")
    assert invoke_cli(["evaluate", "processed", "enc.pt", "out"]).exit_code == 0


def test_method_settings_the_data_cannot_take_name_the_params_key(home):
    """PSTL's temporal masking drops 6 + 6 frames: more than these 8-frame clips have."""
    data = YAML(typ="safe", pure=True).load((home / "params.yaml").read_text())
    data["method"] = "pstl"
    YAML(typ="safe", pure=True).dump(data, home / "pstl.yaml")
    line = one_error_line(invoke_cli(["pretrain", "processed", "enc", "hist", "state", "--params", "pstl.yaml"]))
    assert line.startswith("error: methods.pstl: mask.matm_frames + matm_random_frames must be < frames"), line
    assert "(the data: ntu25 layout, 8 frames)" in line
    assert not any((home / name).exists() for name in ("enc", "hist", "state"))
