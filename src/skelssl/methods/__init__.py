"""Pretraining methods, selected by `method` in params.yaml. An explicit dict registry."""

from __future__ import annotations

from skelssl.config import MethodParams
from skelssl.methods.base import Batch, Method, StepOutput
from skelssl.methods.mamp import MAMP
from skelssl.methods.pstl import PSTL
from skelssl.methods.skeleton2vec import Skeleton2vec
from skelssl.methods.skeletonmae_graph import SkeletonMAEGraph
from skelssl.methods.skeletonmae_st import SkeletonMAEST
from skelssl.skeleton import Layout

METHODS: dict[str, type[Method]] = {
    "skeleton2vec": Skeleton2vec,
    "skeletonmae_st": SkeletonMAEST,
    "skeletonmae_graph": SkeletonMAEGraph,
    "pstl": PSTL,
    "mamp": MAMP,
}


def build_method(name: str, cfg: MethodParams, layout: Layout, frames: int) -> Method:
    """`METHODS[name](cfg, layout, frames)`; each method wraps `self.encoder` (a backbone)."""
    return METHODS[name](cfg, layout=layout, frames=frames)


__all__ = ["METHODS", "Batch", "Method", "StepOutput", "build_method"]
