"""Backbones: know nothing about pretraining. Input layout (N, M, T, V, C); output (N, out_dim)."""

from __future__ import annotations

from typing import Any

from torch import nn

from skelssl.backbones.transformer import SkeletonTransformer
from skelssl.config import TransformerParams

BACKBONES: dict[str, tuple[type[nn.Module], type]] = {
    "transformer": (SkeletonTransformer, TransformerParams),
}


def build_backbone(cfg: TransformerParams, num_joints: int, frames: int) -> nn.Module:
    module_cls, _ = BACKBONES[cfg.name]
    return module_cls(cfg, num_joints=num_joints, frames=frames)


def backbone_spec(cfg: TransformerParams, num_joints: int, frames: int) -> dict[str, Any]:
    """JSON-able description stored in checkpoints, enough to rebuild the backbone."""
    return {"config": cfg.model_dump(), "num_joints": num_joints, "frames": frames}


def backbone_from_spec(spec: dict[str, Any]) -> nn.Module:
    _, cfg_cls = BACKBONES[spec["config"]["name"]]
    return build_backbone(cfg_cls.model_validate(spec["config"]), spec["num_joints"], spec["frames"])
