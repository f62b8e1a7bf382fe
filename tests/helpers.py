"""Small builders shared by tests (tiny configs that keep every test in seconds)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from skelssl.config import FinetuneEpochs, MethodName, Params, Skeleton2vecParams, load_params
from skelssl.skeleton import NTU25

ROOT = Path(__file__).resolve().parents[1]


def load_real_benchmark(name: str) -> ModuleType:
    """`benchmarks/real/<name>.py` as a module (its folder on sys.path while it loads, for `tune`)."""
    folder = ROOT / "benchmarks" / "real"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))


def default_params() -> Params:
    return load_params(ROOT / "params.yaml")


def tiny_skeleton2vec(**mask: float) -> Skeleton2vecParams:
    return tiny_method_params("skeleton2vec", mask=mask)  # type: ignore[return-value]


LAYOUT = NTU25

METHOD_NAMES: tuple[str, ...] = ("skeleton2vec", "skeletonmae_st", "skeletonmae_graph", "pstl", "mamp")

# How each method's params.yaml block is shrunk for tests (seconds on one thread, T = 8).
_TINY: dict[str, dict[str, Any]] = {
    "skeleton2vec": {"backbone": {"dim": 32, "depth": 2, "heads": 2, "t_patch": 2},
                     "decoder": {"dim": 32, "depth": 1, "heads": 2}, "top_k": 2},
    "skeletonmae_st": {"backbone": {"dim": 32, "depth": 2, "heads": 2, "t_patch": 2},
                       "decoder": {"dim": 32, "depth": 1, "heads": 2}},
    "mamp": {"backbone": {"dim": 32, "depth": 2, "heads": 2, "t_patch": 2},
             "decoder": {"dim": 32, "depth": 1, "heads": 2}},
    "skeletonmae_graph": {"backbone": {"dim": 8, "hidden": 12, "layers": 2}},
    "pstl": {"backbone": {"hidden_channels": 4, "hidden_dim": 16, "temporal_kernel": 3},
             "projector_dim": 32, "mask": {"csm_joints": 8, "matm_frames": 3, "matm_random_frames": 2}},
}


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `update` merged in, nested dicts key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) else value
    return out


def finetune_update(epochs: int | None = None, **recipe: Any) -> dict[str, Any]:
    """An `evaluate.finetune` update (for `merge`) that sets `recipe` in every backbone's recipe and,
    given `epochs`, every backbone's epochs: tests shrink whichever backbone they train."""
    update: dict[str, Any] = {backbone: dict(recipe) for backbone in FinetuneEpochs.model_fields}
    if epochs is not None:
        update["epochs"] = dict.fromkeys(FinetuneEpochs.model_fields, epochs)
    return update


def update_in_place(tree: Any, update: dict[str, Any]) -> None:
    """Deep-update a mapping in place (a ruamel one keeps params.yaml's comments and layout)."""
    for key, value in update.items():
        if isinstance(value, dict):
            update_in_place(tree[key], value)
        else:
            tree[key] = value


def copy_project(dest: Path) -> None:
    """Copy the repository's tracked (and untracked, not ignored) files to `dest`, without
    `results/` and `dvc.lock`, so DVC runs every stage there from scratch."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    for rel in out.stdout.splitlines():
        if (ROOT / rel).is_file() and not rel.startswith(("results/", "dvc.lock")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


@contextmanager
def tmpfs(mount: Path, options: str = "size=64k"):
    """Mount a small tmpfs at the new folder `mount` for the block (a full or read-only disk that
    is real, not mocked); skips the test where mounting is not allowed."""
    import pytest

    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def tree_snapshot(root) -> dict:
    """Every path under `root` with its bytes (files; None for folders and symlinks): compare two
    snapshots to prove a command changed nothing."""
    import os

    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = None if os.path.islink(path) else open(path, "rb").read()
    return out


def tiny_method_params(name: MethodName, **update: Any) -> BaseModel:
    """The method's params.yaml block, shrunk by `_TINY`, then deep-updated with `update`."""
    block = getattr(default_params().methods, name)
    return type(block).model_validate(merge(merge(block.model_dump(), _TINY[name]), update))


def ddp_problem(grad_accum: int, name: MethodName = "skeleton2vec"):
    """A tiny training problem of one method, shared by the DDP test and its torchrun worker."""
    import torch

    from skelssl.methods import build_method

    torch.manual_seed(0)
    cfg = tiny_method_params(name)
    method = build_method(name, cfg, LAYOUT, 8)
    gen = torch.Generator().manual_seed(0)
    x, motion = torch.randn(16, 2, 8, 25, 3, generator=gen), torch.rand(16, 2, 8, 25, generator=gen)
    optim = cfg.optim.model_copy(update={"epochs": 2, "batch_size": 8, "warmup_epochs": 1})
    run = default_params().pretrain.model_copy(update={"grad_accum": grad_accum})
    return method, x, motion, optim, run


def invoke_cli(args: list[str]):
    """Run `skelssl ARGS` in this process (typer's CliRunner), stderr apart from stdout."""
    import logging

    from typer.testing import CliRunner

    from skelssl.cli import app

    logging.getLogger("skelssl").handlers.clear()  # the handler binds the stream of its first run
    return CliRunner().invoke(app, args, catch_exceptions=False)


def one_error_line(result, alone: bool = False) -> str:
    """The failed command's one `error:` line: exit code 1, no traceback, exactly one error line and
    it is the last line of stderr (log lines may precede it, none when `alone`)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.stdout)
    assert "Traceback" not in result.stderr + result.stdout
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert not alone or lines == errors, result.stderr
    return errors[0]
