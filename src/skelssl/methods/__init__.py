"""Pretraining methods, selected by `method` in params.yaml. An explicit dict registry."""

from __future__ import annotations

from skelssl.config import MethodParams
from skelssl.methods.base import Batch, Method, StepOutput
from skelssl.methods.skeleton2vec import Skeleton2vec
from skelssl.skeleton import Layout

METHODS: dict[str, type[Method]] = {
    "skeleton2vec": Skeleton2vec,
}


def build_method(name: str, cfg: MethodParams, layout: Layout, frames: int) -> Method:
    """`METHODS[name](cfg, layout, frames)`; each method wraps `self.encoder` (a backbone)."""
    return METHODS[name](cfg, layout=layout, frames=frames)


__all__ = ["METHODS", "Batch", "Method", "StepOutput", "build_method"]
