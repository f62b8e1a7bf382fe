"""Stage `pretrain`: train the selected method on the training split; export only the encoder."""

from __future__ import annotations

from pathlib import Path

import torch

from skelssl.backbones import backbone_spec
from skelssl.config import Params
from skelssl.console import log
from skelssl.io import atomic_file, save_encoder
from skelssl.methods import build_method
from skelssl.pipeline.dataset import load_processed
from skelssl.repro import configure_torch, derive_seed, resolve_device
from skelssl.train import pretrain

ENCODER = "encoder.pt"
HISTORY = "history.tsv"


def run(params: Params, processed_dir: Path, out_dir: Path, history_dir: Path) -> None:
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    x, motion, _ = data.split(params.base.split, train=True)
    frames, joints = x.shape[2], x.shape[3]
    cfg = params.method_params
    torch.manual_seed(derive_seed(params.base.seed, "init", params.method))  # module init RNG
    method = build_method(params.method, cfg, num_joints=joints, frames=frames)
    history = pretrain(method, x, motion, params.pretrain, params.base.seed, device)
    encoder = method.export_encoder()
    meta = {"method": params.method, "seed": params.base.seed, "steps": len(history.rows),
            "train_samples": len(x), "method_params": cfg.model_dump(mode="json")}
    save_encoder(out_dir / ENCODER, encoder.state_dict(),
                 backbone_spec(cfg.backbone, joints, frames), meta)
    with atomic_file(history_dir / HISTORY) as tmp:
        tmp.write_text(history.to_tsv())
    log.info("pretrain: final loss %.4f, encoder → %s", history.rows[-1]["loss"], out_dir / ENCODER)
