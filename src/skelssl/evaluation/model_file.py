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

`read_classifier` checks every entry that predict and export use (`check_payload`: presence, type,
a known layout and head, one class name per output, layout / persons / frames as the encoder and head
were built, JSON-able values) and `build_model` the backbone config: a malformed file is a one-line
SkelsslError naming the file and the key.

Class names come from the processed index: `class_name` (generic source with text labels), else
`original_label` (a renumbered sparse label set), else NTU-style `A001`... for the ntu and pku_mmd
sources, else the class index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from skelssl.backbones import backbone_from_spec
from skelssl.config import PreprocessParams, validation_messages
from skelssl.errors import SkelsslError
from skelssl.evaluation.heads import HEADS, build_classifier
from skelssl.evaluation.linear import linear_head
from skelssl.io import atomic_file, load_torch_file
from skelssl.skeleton import LAYOUTS

FORMAT = 1
KIND = "skelssl-classifier"
PROTOCOLS = ("finetune", "linear_probe")
PROBE_HEADS = ("bn_linear", "linear")  # skelssl.evaluation.linear.linear_head
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
    """A model file's payload (never unpickles objects), checked by `check_payload`; SkelsslError
    naming the file otherwise."""
    payload = load_torch_file(path, "model file")
    if payload.get("kind") != KIND:
        hint = (" (an encoder checkpoint: classifiers are artifacts/finetune/classifier.pt and "
                "artifacts/eval/probe.pt)" if "backbone" in payload else "")
        raise SkelsslError(f"{path}: not a skelssl classifier file{hint}")
    if payload.get("format") != FORMAT or payload.get("protocol") not in PROTOCOLS:
        raise SkelsslError(f"{path}: unsupported classifier format {payload.get('format')!r} "
                           f"(this skelssl reads format {FORMAT})")
    check_payload(path, payload)
    return payload


# ---------------------------------------------------------------------------- payload checks


def _invalid(path: Path, key: str, reason: str) -> SkelsslError:
    return SkelsslError(f"{path}: invalid model file: {key}: {reason}")


def options_error(prefix: str, exc: ValidationError, tag: str | None = None) -> str:
    """Stored options (at the dotted key `prefix` of a model file) failing validation, as one line:
    `invalid model file: <prefix>.<key>: <message>` (the first error, no pydantic banner or URL);
    `tag` is the tagged union's tag that pydantic puts first in the key (a backbone config's name)."""
    messages = validation_messages(exc)
    key, _, message = " ".join(messages[0].split()).partition(": ")
    parts = [] if key == "(root)" else key.split(".")
    if tag is not None and parts[:1] == [tag]:
        parts = parts[1:]
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return f"invalid model file: {'.'.join([prefix, *parts])}: {message}{more}"


def _entry(path: Path, mapping: dict[str, Any], key: str, expected: type | tuple[type, ...],
           prefix: str = "", optional: bool = False) -> Any:
    """mapping[key], of type `expected`; None when `optional` and the key is absent or None."""
    value = mapping.get(key)
    if value is None and optional:
        return None
    if key not in mapping:
        raise _invalid(path, prefix + key, "missing")
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise _invalid(path, prefix + key, f"expected {names}, got {type(value).__name__}")
    return value


def _count(path: Path, mapping: dict[str, Any], key: str, prefix: str = "",
           optional: bool = False) -> int | None:
    """mapping[key], a positive int (None when `optional` and absent)."""
    value = _entry(path, mapping, key, int, prefix, optional)
    if value is not None and value < 1:
        raise _invalid(path, prefix + key, f"expected a positive integer, got {value}")
    return value


def _layout(path: Path, mapping: dict[str, Any], prefix: str = "") -> str:
    """mapping["layout"], a skelssl.skeleton.LAYOUTS key."""
    name = _entry(path, mapping, "layout", str, prefix)
    if name not in LAYOUTS:
        raise _invalid(path, prefix + "layout",
                       f"unknown skeleton layout {name!r} (known: {', '.join(sorted(LAYOUTS))})")
    return name


def _check_state_dict(path: Path, payload: dict[str, Any]) -> None:
    """The weights: a dict of named tensors (their shapes are checked when `build_model` loads them)."""
    weights = _entry(path, payload, "state_dict", dict)
    for name, value in weights.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise _invalid(path, "state_dict", f"entry {name!r} is not a named tensor")


def _check_backbone(path: Path, payload: dict[str, Any]) -> None:
    """The encoder spec's shape (its config is validated when the model is built: `build_model`)."""
    spec = _entry(path, payload, "backbone", dict)
    _entry(path, spec, "config", dict, "backbone.")
    _layout(path, spec, "backbone.")
    _count(path, spec, "frames", "backbone.")
    _count(path, spec, "channels", "backbone.", optional=True)


def _check_head(path: Path, payload: dict[str, Any]) -> None:
    """The head's kind and size, and one class name per output."""
    head = _entry(path, payload, "head", dict)
    kind = _entry(path, head, "kind", str, "head.")
    known = sorted(HEADS) if payload["protocol"] == "finetune" else PROBE_HEADS
    if kind not in known:
        raise _invalid(path, "head.kind",
                       f"unknown {payload['protocol']} head {kind!r} (known: {', '.join(known)})")
    outputs = _count(path, head, "classes", "head.")
    _count(path, head, "persons", "head.")
    names = _entry(path, payload, "classes", list)
    if not all(isinstance(name, str) for name in names):
        raise _invalid(path, "classes", "expected a list of class name strings")
    if len(names) != outputs:
        raise _invalid(path, "classes",
                       f"{len(names)} class names but the model has {outputs} outputs (head.classes)")


def _check_input_shape(path: Path, payload: dict[str, Any]) -> None:
    """layout, persons and frames: the model's input, as its encoder and head were built (after
    `_check_backbone` and `_check_head`)."""
    for key, value, built_by in (("layout", _layout(path, payload), "backbone.layout"),
                                 ("persons", _count(path, payload, "persons"), "head.persons"),
                                 ("frames", _count(path, payload, "frames"), "backbone.frames")):
        parent, child = built_by.split(".")
        if value != payload[parent][child]:
            raise _invalid(path, key, f"{value!r} but {built_by} is {payload[parent][child]!r}")


def _check_data(path: Path, payload: dict[str, Any]) -> None:
    """The training data's source, reading options (validated by `skelssl predict` against its
    source) and preprocessing (a PreprocessParams; `scale` defaults to "none" for older files)."""
    data = _entry(path, payload, "data", dict)
    _entry(path, data, "source", str, "data.", optional=True)
    _entry(path, data, "ingest", dict, "data.", optional=True)
    prep = _entry(path, data, "preprocess", dict, "data.", optional=True)
    if prep is None:
        return
    try:
        PreprocessParams.model_validate({"scale": "none", **prep})
    except ValidationError as exc:
        raise SkelsslError(f"{path}: {options_error('data.preprocess', exc)}") from None
    if prep["frames"] != payload["frames"]:
        raise SkelsslError(f"{path}: the model file is inconsistent: data.preprocess.frames {prep['frames']} "
                           f"but the model takes {payload['frames']} frames")


def _check_json(path: Path, payload: dict[str, Any]) -> None:
    """label_mapping and meta (optional dicts) and every value besides the weights are JSON-able
    (`skelssl export` stores them as JSON)."""
    _entry(path, payload, "label_mapping", dict, optional=True)
    _entry(path, payload, "meta", dict, optional=True)
    for key, value in payload.items():
        if key == "state_dict":
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise _invalid(path, str(key), f"not JSON-able ({exc})") from None


def check_payload(path: Path, payload: dict[str, Any]) -> None:
    """Every entry predict and export use (module docstring) is present, of its type, and consistent
    with the others; SkelsslError `<path>: invalid model file: <key>: <reason>` otherwise."""
    _check_state_dict(path, payload)
    _check_backbone(path, payload)
    _check_head(path, payload)
    _check_input_shape(path, payload)
    _check_data(path, payload)
    _check_json(path, payload)


def _encoder(spec: dict[str, Any]) -> nn.Module:
    """The spec's backbone; a one-line SkelsslError naming the bad key when the spec is invalid."""
    try:
        return backbone_from_spec(spec)
    except ValidationError as exc:
        raise SkelsslError(options_error("backbone.config", exc, spec["config"].get("name"))) from None
    except ValueError as exc:
        raise SkelsslError(f"invalid model file: backbone: {str(exc).strip().splitlines()[0]}") from None


def build_model(payload: dict[str, Any]) -> nn.Module:
    """The eager model of a model file, in eval mode on the CPU."""
    spec, head = payload["backbone"], payload["head"]
    with torch.random.fork_rng():  # the random init is overwritten by the state dict
        torch.manual_seed(0)
        encoder = _encoder(spec)
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
