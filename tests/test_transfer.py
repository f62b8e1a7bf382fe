"""Transfer protocol: the pretrained encoder is fine-tuned on a second, differently generated dataset."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import torch

from tiny_eval import FRAMES, tiny_encoder, tiny_params
from skelssl.config import Params
from skelssl.io import load_encoder
from skelssl.pipeline import transfer
from skelssl.pipeline.transfer import build_target, run, target_params


def _small(params: Params) -> Params:
    """A 4-class, 4-subject target of short clips, fine-tuned for 2 epochs with batch 8."""
    synth = params.synthesize.model_copy(update={"classes": 4, "frames": params.synthesize.frames.model_copy(
        update={"min": 16, "max": 20})})
    prep = params.preprocess.model_copy(update={"frames": FRAMES})
    ev = params.evaluate.model_copy(update={
        "transfer": params.evaluate.transfer.model_copy(update={"subjects": 4, "epochs": 2}),
        "finetune": params.evaluate.finetune.model_copy(update={
            "transformer": params.evaluate.finetune.transformer.model_copy(update={"batch_size": 8, "warmup_epochs": 0})})})
    return params.model_copy(update={"synthesize": synth, "preprocess": prep, "evaluate": ev})


def test_target_is_another_dataset_of_the_same_format():
    params = tiny_params()
    target = target_params(params)
    cfg = params.evaluate.transfer
    assert (target.synthesize.seed, target.synthesize.subjects) == (cfg.seed, cfg.subjects)
    assert target.synthesize.noise.jitter == cfg.jitter
    assert target.synthesize.seed != params.synthesize.seed  # params.yaml: a different generator seed
    assert target.ingest.source == "ntu" and target.preprocess == params.preprocess


def test_build_target_and_run_write_transfer_and_scratch(tmp_path, monkeypatch):
    params = _small(tiny_params())
    data = build_target(params, tmp_path / "work")
    assert data.x.shape[1:] == (2, FRAMES, 25, 3)
    assert sorted(set(data.index["label"].to_list())) == [0, 1, 2, 3]
    performers = set(pl.read_parquet(tmp_path / "work" / "processed" / "index.parquet")["performer"])
    assert performers <= {1, 2, 3, 4}

    tiny_encoder(tmp_path / "encoder.pt", params)
    started: dict[str, dict] = {}  # the weights each fine-tuning run starts from

    def recording_finetune(encoder, *args, **kwargs):
        started[args[-1].split()[-1]] = {k: v.clone() for k, v in encoder.state_dict().items()}
        return original_finetune(encoder, *args, **kwargs)

    original_finetune = transfer.finetune
    monkeypatch.setattr(transfer, "finetune", recording_finetune)
    run(params, tmp_path / "encoder.pt", tmp_path / "out")
    monkeypatch.undo()
    pretrained = load_encoder(tmp_path / "encoder.pt")["state_dict"]
    assert set(started) == {"transfer", "scratch"}
    assert all(torch.equal(started["transfer"][k], v) for k, v in pretrained.items())  # the encoder itself
    assert not all(torch.equal(started["scratch"][k], v) for k, v in pretrained.items())  # a random twin
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics) == {"transfer", "scratch"}  # accuracies only: the clip counts are in info.json
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    n_train = int(data.index["xsub_train"].sum())
    assert info == {"target": {"train": n_train, "test": len(data.index) - n_train}}
    for name in ("transfer", "scratch"):
        assert 0.0 <= metrics[name]["top1_last"] <= metrics[name]["top1_best"] <= 100.0
        assert metrics[name]["best_epoch"] in (1, 2)
    # deterministic: a second run gives the same file
    run(params, tmp_path / "encoder.pt", tmp_path / "again")
    assert np.array_equal(np.frombuffer((tmp_path / "out" / "metrics.json").read_bytes(), np.uint8),
                          np.frombuffer((tmp_path / "again" / "metrics.json").read_bytes(), np.uint8))


def test_an_encoder_of_another_layout_is_skipped_with_a_reason(tmp_path):
    from skelssl.backbones import backbone_spec, build_backbone
    from skelssl.io import save_encoder
    from skelssl.skeleton import LAYOUTS

    params = tiny_params()
    cfg, layout = params.methods.skeleton2vec.backbone, LAYOUTS["kinect20"]
    save_encoder(tmp_path / "enc.pt", build_backbone(cfg, layout, FRAMES).state_dict(),
                 backbone_spec(cfg, layout, FRAMES), {"method": "skeleton2vec"})
    run(params, tmp_path / "enc.pt", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == {}  # no accuracy, no string metric
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    assert list(info) == ["skipped"] and "kinect20" in info["skipped"]
