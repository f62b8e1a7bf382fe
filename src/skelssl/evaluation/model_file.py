"""Trained classifiers as files: what the `finetune` stage (encoder + head, `classifier.pt`) and the
`evaluate` stage (frozen encoder + linear-probe head, `probe.pt`) save, and what `skelssl predict` /
`skelssl export` load.

A model file is tensors + JSON-able values only (`torch.load(path, weights_only=True)` reads it, no
pickled objects), written atomically (`skelssl.io.atomic_file`):

    {"format": 1, "kind": "skelssl-classifier",
     "protocol": "finetune" | "linear_probe",
     "state_dict": {name: tensor},        # the whole model: encoder.* and head.* (finetune: the
                                          # Classifier of skelssl.evaluation.heads; probe: ProbeClassifier)
     "backbone": {...},                   # the encoder's spec (skelssl.backbones.backbone_spec)
     "head": {"kind": ..., "classes": K, "persons": M},  # finetune: the backbone name; probe: bn_linear | linear
     "classes": ["A001", ...],            # K class names, index = the model's output
     "label_mapping": {...} | None,       # generic/pyskl sources: {"original_label": [...]} when renumbered
     "layout": "ntu25", "persons": M, "frames": T,
     "data": {"source": "ntu", "ingest": {...} | None, "preprocess": {...} | None},
     "meta": {...}}                       # method, seed, split, encoder meta, test metrics

`data.ingest` (the reading options of the training data: second_person, denoise, and pku_mmd / npz
for those sources) and `data.preprocess` (frames, crop_ratio, center, align_view, scale) are the values the
training data was made with, read from the processed dataset's meta.json (written by the ingest and
preprocess stages), so a prediction sees exactly the training preprocessing whatever params.yaml
holds now. They are None for a processed folder written by an older version (predict refuses).

Class names come from the processed index: `class_name` (generic source with text labels), else
`original_label` (a renumbered sparse label set), else NTU-style `A001`... for the ntu and pku_mmd
sources, else the class index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from skelssl.backbones import backbone_from_spec
from skelssl.errors import SkelsslError
from skelssl.evaluation.heads import build_classifier
from skelssl.evaluation.linear import linear_head
from skelssl.io import atomic_file, load_torch_file

FORMAT = 1
KIND = "skelssl-classifier"
PROTOCOLS = ("finetune", "linear_probe")
NTU_NAMED = frozenset({"ntu", "pku_mmd"})  # sources whose labels are NTU-style action ids


class ProbeClassifier(nn.Module):
    """The frozen encoder and the linear-probe head: (N, M, T, V, C) → logits (N, K)."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def class_names(index: Any, classes: int, source: str | None) -> tuple[list[str], dict | None]:
    """(K class names, label mapping or None) from a processed index (a polars frame); the mapping
    is {"original_label": [the label the dataset gave class k, or None]} for a renumbered label set."""
    names = [f"A{k + 1:03d}" if source in NTU_NAMED else str(k) for k in range(classes)]
    for column in ("class_name", "original_label"):
        if column not in index.columns:
            continue
        given: list[Any] = [None] * classes
        for label, value in index.select("label", column).unique().sort("label").rows():
            if 0 <= label < classes:
                names[label], given[label] = str(value), value
        return names, ({"original_label": given} if column == "original_label" else None)
    return names, None


def data_description(meta: dict) -> dict:
    """The `data` entry of a model file from a processed dataset's meta.json."""
    return {"source": meta.get("source"), "ingest": meta.get("ingest"), "preprocess": meta.get("preprocess")}


def save_classifier(path: Path, model: nn.Module, protocol: str, backbone: dict[str, Any],
                    head: dict[str, Any], classes: list[str], label_mapping: dict | None,
                    persons: int, data: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write a model file (module docstring); `model` is moved to no device, only its tensors are copied."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    payload = {
        "format": FORMAT, "kind": KIND, "protocol": protocol,
        "state_dict": {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()},
        "backbone": backbone, "head": {**head, "classes": len(classes), "persons": persons},
        "classes": list(classes), "label_mapping": label_mapping,
        "layout": backbone["layout"], "persons": persons, "frames": backbone["frames"],
        "data": data, "meta": meta,
    }
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)


def read_classifier(path: Path) -> dict[str, Any]:
    """A model file's payload (never unpickles objects); SkelsslError naming the file otherwise."""
    payload = load_torch_file(path, "model file")
    if payload.get("kind") != KIND:
        hint = (" (an encoder checkpoint: classifiers are artifacts/finetune/classifier.pt and "
                "artifacts/eval/probe.pt)" if "backbone" in payload else "")
        raise SkelsslError(f"{path}: not a skelssl classifier file{hint}")
    if payload.get("format") != FORMAT or payload.get("protocol") not in PROTOCOLS:
        raise SkelsslError(f"{path}: unsupported classifier format {payload.get('format')!r} "
                           f"(this skelssl reads format {FORMAT})")
    return payload


def build_model(payload: dict[str, Any]) -> nn.Module:
    """The eager model of a model file, in eval mode on the CPU."""
    spec, head = payload["backbone"], payload["head"]
    with torch.random.fork_rng():  # the random init is overwritten by the state dict
        torch.manual_seed(0)
        encoder = backbone_from_spec(spec)
        if payload["protocol"] == "finetune":
            model: nn.Module = build_classifier(head["kind"], encoder, head["classes"], 0.0, head["persons"])
        else:
            model = ProbeClassifier(encoder, linear_head(encoder.out_dim, head["classes"],
                                                         torch.Generator(), head["kind"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise SkelsslError(f"model file weights do not match its backbone spec ({str(exc).splitlines()[0]})"
                           ) from None
    return model.eval()


def load_classifier(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """(eager model in eval mode, payload) of a model file."""
    payload = read_classifier(path)
    try:
        return build_model(payload), payload
    except SkelsslError as exc:
        raise SkelsslError(f"{path}: {exc}") from None


def save_stage_classifier(path: Path, model: nn.Module, protocol: str, head_kind: str,
                          checkpoint: dict[str, Any], index: Any, persons: int, dataset_meta: dict,
                          meta: dict[str, Any]) -> None:
    """Save a stage's trained model: `checkpoint` the encoder checkpoint it started from, `index`
    the processed index (class names), `dataset_meta` the processed meta.json (source, reading and
    preprocessing options), `meta` what else to keep (method, seed, split, metrics)."""
    classes = int(index["label"].max()) + 1
    names, mapping = class_names(index, classes, dataset_meta.get("source"))
    save_classifier(path, model, protocol, checkpoint["backbone"], {"kind": head_kind}, names, mapping,
                    persons, data_description(dataset_meta),
                    {**meta, "encoder": checkpoint.get("meta", {})})
