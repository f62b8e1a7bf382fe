"""Small builders shared by tests (tiny configs that keep every test in seconds)."""

from __future__ import annotations

from pathlib import Path

from skelssl.config import Params, Skeleton2vecParams, load_params
from skelssl.skeleton import NTU25

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


LAYOUT = NTU25


def ddp_problem(grad_accum: int):
    """A tiny Skeleton2vec training problem shared by the DDP test and its torchrun worker."""
    import torch

    from skelssl.methods import build_method

    torch.manual_seed(0)
    method = build_method("skeleton2vec", tiny_skeleton2vec(), LAYOUT, 8)
    gen = torch.Generator().manual_seed(0)
    x, motion = torch.randn(16, 2, 8, 25, 3, generator=gen), torch.rand(16, 2, 8, 25, generator=gen)
    params = default_params()
    optim = params.methods.skeleton2vec.optim.model_copy(
        update={"epochs": 2, "batch_size": 8, "warmup_epochs": 1})
    run = params.pretrain.model_copy(update={"grad_accum": grad_accum})
    return method, x, motion, optim, run
