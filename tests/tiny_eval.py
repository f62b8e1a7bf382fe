"""Tiny processed data, params and encoders shared by the evaluation-protocol tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import torch
from ruamel.yaml import YAML

from helpers import ROOT
from skelssl.backbones import backbone_spec, build_backbone
from skelssl.config import Params
from skelssl.io import save_encoder, write_json
from skelssl.skeleton import NTU25

FRAMES = 8
TRAIN = 24  # the first TRAIN clips are the xsub training split, the rest the test split


def tiny_params(**evaluate: dict) -> Params:
    """params.yaml with a 1-block, 16-wide Skeleton2vec, CPU, 1 thread, a 2-epoch probe."""
    data = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    data["method"] = "skeleton2vec"
    data["pretrain"].update(device="cpu", threads=1)
    s2v = data["methods"]["skeleton2vec"]
    s2v["optim"].update(epochs=3, batch_size=8, warmup_epochs=1)
    s2v["backbone"].update(dim=16, depth=1, heads=2, t_patch=4)
    s2v["decoder"].update(dim=16, depth=1, heads=2)
    s2v["top_k"] = 1
    data["evaluate"]["linear"].update(epochs=2, batch_size=8)
    for key, value in evaluate.items():
        data["evaluate"][key].update(value)
    return Params.model_validate(data)


def tiny_processed(folder: Path, n: int = 36, classes: int = 3) -> None:
    """A processed-stage folder: n clips (N, 2, FRAMES, 25, 3), second person absent, class-dependent
    drift on x, labels i % classes, xsub split = first TRAIN clips."""
    from skelssl.evaluation.streams import motion_magnitude

    folder.mkdir(parents=True)
    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(n) % classes
    x = 0.1 * torch.randn(n, 2, FRAMES, 25, 3, generator=gen)
    x[:, 0, :, :, 0] += labels[:, None, None].float() * torch.linspace(0, 1, FRAMES)[:, None]
    x[:, 1] = 0.0
    np.save(folder / "joints.npy", x.numpy())
    np.save(folder / "motion.npy", motion_magnitude(x, NTU25).numpy())
    pl.DataFrame({"label": labels.numpy(), "xsub_train": [i < TRAIN for i in range(n)]}
                 ).write_parquet(folder / "index.parquet")
    write_json(folder / "meta.json", {"source": "ntu", "layout": "ntu25", "persons": 2, "splits": ["xsub"]})


def tiny_encoder(path: Path, params: Params) -> None:
    """A randomly initialised (seed 0) encoder checkpoint of the params' Skeleton2vec backbone."""
    cfg = params.methods.skeleton2vec.backbone
    torch.manual_seed(0)
    encoder = build_backbone(cfg, NTU25, FRAMES)
    save_encoder(path, encoder.state_dict(), backbone_spec(cfg, NTU25, FRAMES), {"method": "skeleton2vec"})
