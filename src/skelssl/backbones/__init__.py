"""Backbones: know nothing about pretraining. Input layout (N, M, T, V, C); output (N, out_dim).

Every backbone class is constructed as `cls(cfg, layout, frames)` and works for any layout of
`skelssl.skeleton.LAYOUTS`.
"""

from __future__ import annotations

from typing import Any

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


def build_backbone(cfg: BackboneParams, layout: Layout, frames: int) -> nn.Module:
    return BACKBONES[cfg.name](cfg, layout=layout, frames=frames)


def backbone_spec(cfg: BackboneParams, layout: Layout, frames: int) -> dict[str, Any]:
    """JSON-able description stored in checkpoints, enough to rebuild the backbone."""
    return {"config": cfg.model_dump(mode="json"), "layout": layout.name, "frames": frames}


def backbone_from_spec(spec: dict[str, Any]) -> nn.Module:
    cfg = TypeAdapter(BackboneParams).validate_python(spec["config"])
    return build_backbone(cfg, LAYOUTS[spec["layout"]], spec["frames"])
