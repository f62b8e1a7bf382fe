"""Artifact contracts: atomic writes, metrics, and encoder checkpoints.

Every output is written to a temporary sibling and renamed into place, so a failing stage never
leaves a half-written output and never destroys what an earlier run produced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = 1


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    elif final.exists() or final.is_symlink():
        final.unlink()
    os.replace(tmp, final)


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder that is renamed to `final` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


def write_json(path: Path, data: Any) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_encoder(path: Path, state_dict: dict[str, torch.Tensor], backbone: dict[str, Any],
                 meta: dict[str, Any]) -> None:
    """Save an encoder as tensors + JSON-able dicts (loadable with `weights_only=True`)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
        "backbone": backbone,
        "meta": meta,
    }
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)


def load_encoder(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_encoder` (never unpickles arbitrary objects)."""
    from skelssl.errors import SkelsslError

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SkelsslError(f"{path}: encoder checkpoint not found") from None
    except Exception as exc:  # torch raises several types for corrupt files
        raise SkelsslError(f"{path}: not a valid encoder checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise SkelsslError(f"{path}: not a skelssl encoder checkpoint (format {CHECKPOINT_FORMAT})")
    return payload
