"""Pretraining methods, selected by `method` in params.yaml. An explicit dict registry."""

from __future__ import annotations

from pydantic import BaseModel

from skelssl.methods.base import Batch, Method, StepOutput
from skelssl.methods.skeleton2vec import Skeleton2vec

METHODS: dict[str, type[Method]] = {
    "skeleton2vec": Skeleton2vec,
}


def build_method(name: str, cfg: BaseModel, num_joints: int, frames: int) -> Method:
    return METHODS[name](cfg, num_joints=num_joints, frames=frames)


__all__ = ["METHODS", "Batch", "Method", "StepOutput", "build_method"]
