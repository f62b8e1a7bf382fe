"""`skelssl export`: a trained model file as one self-contained TorchScript file.

The exported file holds the whole classifier (encoder + head, traced with `torch.jit.trace` in eval
mode: input float32 (N, M, T, V, C) of preprocessed clips, any N; output logits (N, K)) and, as the
TorchScript extra file `skelssl.json`, what using it needs: the class names, the skeleton layout
(name and joint order), the input shape, and the preprocessing the clips must get first (frames,
crop_ratio, center, align_view, scale: skelssl.pipeline.preprocess), plus where the model came from. It
loads with plain torch, without skelssl:

    import json, torch
    extra = {"skelssl.json": ""}
    model = torch.jit.load("model.ts", map_location="cpu", _extra_files=extra)
    meta = json.loads(extra["skelssl.json"])
    logits = model(x)                      # x: (N, meta["persons"], meta["frames"], V, C) float32
    top = logits.softmax(1).topk(5)
    names = [meta["classes"][i] for i in top.indices[0]]

Preprocessing (centring, view alignment, crop and resize to `frames`) is not part of the graph:
`skelssl predict` applies it from raw sequences; other code applies the recorded params. Tracing
records the CPU fp32 path with plain `F.linear` (skelssl.backbones.linear skips its oneDNN op while
tracing), so any torch runs the file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from skelssl.evaluation.model_file import load_classifier
from skelssl.io import atomic_file

EXTRA_FILE = "skelssl.json"


def export_metadata(payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON stored beside the TorchScript graph (module docstring)."""
    from skelssl.skeleton import LAYOUTS

    layout = LAYOUTS[payload["layout"]]
    data = payload.get("data") or {}
    return {
        "format": 1, "producer": "skelssl export", "protocol": payload["protocol"],
        "classes": payload["classes"], "label_mapping": payload.get("label_mapping"),
        "layout": layout.name, "joint_names": list(layout.joint_names),
        "persons": payload["persons"], "frames": payload["frames"],
        "channels": payload["backbone"].get("channels", layout.channels),
        "input": "float32 (N, persons, frames, joints, channels), preprocessed as `preprocess` says",
        "output": "logits (N, classes)",
        "preprocess": data.get("preprocess"), "source": data.get("source"), "ingest": data.get("ingest"),
        "backbone": payload["backbone"], "meta": payload.get("meta", {}),
    }


def example_input(payload: dict[str, Any], batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random input of the model's shape."""
    from skelssl.skeleton import LAYOUTS

    layout = LAYOUTS[payload["layout"]]
    channels = payload["backbone"].get("channels", layout.channels)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, payload["persons"], payload["frames"], layout.num_joints, channels, generator=gen)


def trace(model: torch.nn.Module, payload: dict[str, Any]) -> torch.jit.ScriptModule:
    """The eager model traced in eval mode on the CPU."""
    model = model.eval().cpu()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 steers to torch.export
        return torch.jit.trace(model, example_input(payload), check_trace=False)


def export(model_path: Path, out: Path) -> dict[str, Any]:
    """Write `model_path` as TorchScript to `out` (atomically); returns the stored metadata."""
    model, payload = load_classifier(model_path)
    traced = trace(model, payload)
    meta = export_metadata(payload)
    with atomic_file(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta)})
    return meta


def load_exported(path: Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """(module, metadata) of an exported file: what plain torch does (module docstring)."""
    extra = {EXTRA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra[EXTRA_FILE])
