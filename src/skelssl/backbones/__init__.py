"""Backbones: know nothing about pretraining. Input layout (N, M, T, V, C); output (N, out_dim).

Every backbone class is constructed as `cls(cfg, layout, frames)` and works for any layout of
`skelssl.skeleton.LAYOUTS`.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import TypeAdapter
from torch import nn

from skelssl.backbones.gin import GIN
from skelssl.backbones.stgcn import STGCN
from skelssl.backbones.transformer import SkeletonTransformer
from skelssl.config import BackboneParams
from skelssl.skeleton import LAYOUTS, Layout

BACKBONES: dict[str, type[nn.Module]] = {
    "transformer": SkeletonTransformer,
    "stgcn": STGCN,
    "gin": GIN,
}


def build_backbone(cfg: BackboneParams, layout: Layout, frames: int, channels: int | None = None) -> nn.Module:
    """`channels`: coordinates per joint; None = the layout's (3, or 2 for 2D keypoint layouts)."""
    return BACKBONES[cfg.name](cfg, layout=layout, frames=frames, channels=channels)


def backbone_spec(cfg: BackboneParams, layout: Layout, frames: int,
                  channels: int | None = None) -> dict[str, Any]:
    """JSON-able description stored in checkpoints, enough to rebuild the backbone."""
    return {"config": cfg.model_dump(mode="json"), "layout": layout.name, "frames": frames,
            "channels": layout.channels if channels is None else channels}


def _upgrade_config(config: Any) -> Any:
    """Fill fields that older checkpoints' specs lack with what those encoders were trained with:
    an ST-GCN spec written before `partition` existed used true hop distances ("true_distance")."""
    if isinstance(config, dict) and config.get("name") == "stgcn" and "partition" not in config:
        return {**config, "partition": "true_distance"}
    return config


def backbone_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a backbone; specs written before `channels` was stored use the layout's channels,
    ST-GCN specs written before `partition` was stored use "true_distance" (`_upgrade_config`)."""
    cfg = TypeAdapter(BackboneParams).validate_python(_upgrade_config(spec["config"]))
    return build_backbone(cfg, LAYOUTS[spec["layout"]], spec["frames"], spec.get("channels"))


def random_backbone(spec: dict[str, Any], seed: int) -> nn.Module:
    """A randomly initialised backbone of the spec's shape; torch's global RNG is left untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return backbone_from_spec(spec)


def backbone_from_checkpoint(checkpoint: dict[str, Any]) -> nn.Module:
    """The pretrained encoder of a checkpoint loaded with `skelssl.io.load_encoder`."""
    encoder = backbone_from_spec(checkpoint["backbone"])
    encoder.load_state_dict(checkpoint["state_dict"])
    return encoder
