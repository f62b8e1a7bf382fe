"""Small builders shared by tests (tiny configs that keep every test in seconds)."""

from __future__ import annotations

from pathlib import Path

from skelssl.config import Params, Skeleton2vecParams, load_params

ROOT = Path(__file__).resolve().parents[1]


def default_params() -> Params:
    return load_params(ROOT / "params.yaml")


def tiny_skeleton2vec(**mask: float) -> Skeleton2vecParams:
    base = default_params().methods.skeleton2vec.model_dump()
    base["backbone"].update(dim=32, depth=2, heads=2, t_patch=2)
    base["decoder"].update(dim=32, depth=1, heads=2)
    base["top_k"] = 2
    base["mask"].update(mask)
    return Skeleton2vecParams.model_validate(base)
