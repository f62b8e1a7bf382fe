"""Artifact contracts: atomic writes, metrics, and encoder checkpoints.

Every output is written to a temporary sibling and renamed into place, so a failing stage never
leaves a half-written output and never destroys what an earlier run produced; where a stage may
write, and what it may replace, is decided in `skelssl.outputs`. torch is imported only by the
checkpoint functions, so stages without a model (ingest, preprocess) start without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skelssl.errors import SkelsslError
from skelssl.outputs import atomic_dir, atomic_file

if TYPE_CHECKING:
    import torch

__all__ = ["atomic_dir", "atomic_file", "write_json", "save_encoder", "load_encoder", "load_torch_file"]

CHECKPOINT_FORMAT = 1


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
    import torch

    with atomic_file(path) as tmp:
        torch.save(payload, tmp)


def load_torch_file(path: Path, what: str) -> dict[str, Any]:
    """The dict a skelssl torch file holds (`weights_only=True`: never unpickles arbitrary objects).

    `what` names the expected file in the errors ("encoder checkpoint", "model file"): a missing
    file, a folder, an unreadable or corrupt file, or one that does not hold a dict raises a
    one-line SkelsslError naming the path.
    """
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SkelsslError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        article = "an" if what[:1] in "aeiou" else "a"
        raise SkelsslError(f"{path}: is a folder, not {article} {what}") from None
    except Exception as exc:  # torch raises several types for corrupt files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SkelsslError(f"{path}: not a valid {what} ({reason})") from None
    if not isinstance(payload, dict):
        raise SkelsslError(f"{path}: not a skelssl {what} (holds a {type(payload).__name__}, not a dict)")
    return payload


def load_encoder(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_encoder` (never unpickles arbitrary objects)."""
    payload = load_torch_file(path, "encoder checkpoint")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise SkelsslError(f"{path}: not a skelssl encoder checkpoint (format {CHECKPOINT_FORMAT})")
    return payload
