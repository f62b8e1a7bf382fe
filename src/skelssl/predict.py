"""`skelssl predict`: classify skeleton sequences with a trained model file.

The model file (`artifacts/finetune/classifier.pt` or `artifacts/eval/probe.pt`, see
skelssl.evaluation.model_file) carries everything the prediction needs, never params.yaml: the
sequences are read by the ingest source (`skelssl.data.sources.SOURCES`; default: the source the
model was trained on) with the training run's reading options (second person, NTU denoising, ...),
then preprocessed by the same kernel as the `preprocess` stage (`skelssl.kernels.preprocess_batch`)
with the training run's frames, crop_ratio, center, align_view and scale ("none" for model files
written before `preprocess.scale` existed), and classified in eval mode.

Any folder the source reads works. The generic source (`<name>.npy` arrays, skelssl.data.sources.
generic) needs no labels.csv here: without one every `.npy` array of the folder is classified; a
single `.npy` file works too. Every array must be in the model's skeleton layout.

Output, one entry per clip in the source's order: its name, the label the dataset gives it (when the
input is labelled: `class_name` / `original_label` / class index of the source), and the top-k
classes with their softmax scores. JSON: a list of {"name", "label"?, "top": [{"class", "index",
"score"}, ...]}; CSV (long): name,[label,]rank,class,index,score.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from skelssl.config import IngestParams
from skelssl.errors import SkelsslError
from skelssl.evaluation.model_file import load_classifier, options_error

FORMATS = ("json", "csv")
# reading options a model file may lack (sources it was not trained on): those of params.yaml's defaults
DEFAULT_READING: dict[str, Any] = {
    "second_person": "zeros",
    "denoise": {"min_frames": 11, "spread_ratio": 0.8, "noise_fraction": 0.69754},
    "pku_mmd": {"phase": 1, "skeletons": "auto", "labels": "auto", "splits": "auto", "frames": "inclusive"},
    "npz": {"benchmark": "xsub"},
}


@dataclass(frozen=True)
class Sequence:
    name: str
    label: str | None  # what the dataset calls its class; None for unlabelled input
    joints: np.ndarray  # (F, M, V, C) float32, non-zero frames


def ingest_params(payload: dict[str, Any], source: str, input_path: Path, model_path: Path) -> IngestParams:
    """The ingest options to read `input_path` with `source` (a known one) as the model's training
    data was read; SkelsslError naming the model file and the key when its stored options are invalid."""
    data = payload["data"]
    reading = data.get("ingest")
    if reading is None or data.get("preprocess") is None:
        raise SkelsslError(f"{model_path}: the model file does not record how its training data was read "
                           "and preprocessed (its processed dataset predates this version): run the "
                           "ingest and preprocess stages again, then the stage that wrote the model")
    layout = payload["layout"] if source in ("generic", "pyskl") else "auto"
    values = {**DEFAULT_READING, **reading, "source": source, "input": str(input_path), "layout": layout,
              "labels": "default", "on_error": "fail", "workers": 1, "ntu_missing": "keep"}
    try:
        return IngestParams.model_validate(values)
    except ValidationError as exc:
        raise SkelsslError(f"{model_path}: {options_error('data.ingest', exc)}") from None


def require_source(name: str, where: str) -> None:
    """SkelsslError `<where>: unknown source ...` (listing the known ones) unless `name` is an
    ingest source (skelssl.data.sources.SOURCES)."""
    from skelssl.data.sources import SOURCES

    if name not in SOURCES:
        raise SkelsslError(f"{where}: unknown source {name!r} (known: {', '.join(sorted(SOURCES))})")


def input_source(payload: dict[str, Any], source: str | None, model_path: Path) -> str:
    """The source to read the input with: `--source`, else the model's training source (generic
    when it records none); SkelsslError naming `--source` or the model file when it is unknown."""
    if source is not None:
        require_source(source, "--source")
        return source
    name = payload["data"].get("source") or "generic"
    require_source(name, f"{model_path}: invalid model file: data.source")
    return name


def _label_text(clip: Any) -> str:
    for key in ("class_name", "original_label"):
        if key in clip.meta:
            return str(clip.meta[key])
    return str(clip.label)


def _unlabelled_generic(root: Path, cfg: IngestParams) -> list[Any] | None:
    """Items of a generic-source folder (or one .npy file) without a labels file; None when the
    folder has its labels file (the source reads it then)."""
    from skelssl.data.sources.generic import DEFAULT_LABELS, GenericItem, _array_shape
    from skelssl.skeleton import LAYOUTS

    if root.is_dir() and (root / (DEFAULT_LABELS if cfg.labels == "default" else cfg.labels)).is_file():
        return None
    paths = [root] if root.is_file() and root.suffix == ".npy" else sorted(root.glob("*.npy")) if root.is_dir() else []
    if not paths:
        raise SkelsslError(f"{root}: no .npy sequence arrays (a generic-source folder or one .npy file)")
    shapes = [_array_shape(p) for p in paths]
    persons = max([s[1] for s in shapes if len(s) == 4] + [1])
    layout = LAYOUTS[cfg.layout]
    return [GenericItem(p, p.stem, 0, persons, layout) for p in paths]


def read_sequences(source_name: str, input_path: Path, cfg: IngestParams) -> tuple[list[Sequence], str]:
    """(the clips of `input_path` read by the source, the layout it gives)."""
    from skelssl.data.sources import SOURCES

    require_source(source_name, "--source")
    source = SOURCES[source_name]()
    items = _unlabelled_generic(input_path, cfg) if source_name == "generic" else None
    labelled = items is None
    if items is None:
        items = list(source.items(input_path, cfg))
    else:
        source.layout = cfg.layout  # type: ignore[misc]
    sequences: list[Sequence] = []
    from skelssl.data.sources.base import Rejected
    from skelssl.errors import ParseError

    for item in items:
        for clip in source.read(item, cfg):
            if isinstance(clip, Rejected):
                raise ParseError(clip.path, clip.line, clip.message)
            sequences.append(Sequence(clip.name, _label_text(clip) if labelled else None,
                                      np.ascontiguousarray(clip.joints, dtype=np.float32)))
    if not sequences:
        raise SkelsslError(f"{input_path}: no sequences to classify")
    return sequences, source.layout


def preprocess_sequences(sequences: list[Sequence], payload: dict[str, Any]) -> torch.Tensor:
    """(N, M, T, V, C): the training run's preprocessing (skelssl.pipeline.preprocess) of the clips,
    persons zero-padded to the model's M (`payload` as read_classifier checks it: data.preprocess
    valid and consistent with the model's frames)."""
    from skelssl.kernels import preprocess_batch
    from skelssl.pipeline.preprocess import view_alignment
    from skelssl.skeleton import LAYOUTS

    prep, persons, layout = payload["data"]["preprocess"], payload["persons"], LAYOUTS[payload["layout"]]
    clips = []
    for seq in sequences:
        present = seq.joints.shape[1]
        if present > persons and seq.joints[:, persons:].any():
            raise SkelsslError(f"{seq.name}: {present} persons, the model takes {persons}")
        clip = np.zeros((len(seq.joints), persons, *seq.joints.shape[2:]), dtype=np.float32)
        clip[:, :min(present, persons)] = seq.joints[:, :persons]
        clips.append(clip)
    offsets = np.cumsum([0] + [len(c) for c in clips]).astype(np.int64)
    left, right = layout.hips or (-1, -1)
    x, _ = preprocess_batch(np.ascontiguousarray(np.concatenate(clips)), offsets, prep["frames"],
                            prep["crop_ratio"], layout.center if prep["center"] else -1,
                            view_alignment(prep["align_view"], layout), left, right, prep.get("scale", "none"))
    return torch.from_numpy(x)


@torch.no_grad()
def classify(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Softmax scores (N, K) of the model in eval mode."""
    model.eval()
    out = [model(x[i:i + batch_size]).float().softmax(dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def predict(model_path: Path, input_path: Path, source: str | None = None, top_k: int = 5,
            batch_size: int = 64) -> list[dict[str, Any]]:
    """One entry per clip: {"name", "label" (labelled input only), "top": [{"class", "index", "score"}]}."""
    if top_k < 1:
        raise SkelsslError(f"--top-k: must be at least 1, got {top_k}")
    model, payload = load_classifier(model_path)
    name = input_source(payload, source, model_path)
    cfg = ingest_params(payload, name, input_path, model_path)
    sequences, layout = read_sequences(name, input_path, cfg)
    if layout != payload["layout"]:
        raise SkelsslError(f"{input_path}: the {name} source gives layout {layout}, the model takes "
                           f"{payload['layout']}")
    scores = classify(model, preprocess_sequences(sequences, payload), batch_size)
    names = payload["classes"]
    values, indices = scores.topk(min(top_k, scores.shape[1]), dim=1)
    rows = []
    for seq, vals, idx in zip(sequences, values.tolist(), indices.tolist(), strict=True):
        row: dict[str, Any] = {"name": seq.name}
        if seq.label is not None:
            row["label"] = seq.label
        row["top"] = [{"class": names[i], "index": i, "score": round(v, 6)} for v, i in zip(vals, idx, strict=True)]
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """The predictions as JSON or long CSV (module docstring)."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if fmt != "csv":
        raise SkelsslError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    labelled = any("label" in row for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", *(["label"] if labelled else []), "rank", "class", "index", "score"])
    for row in rows:
        for rank, top in enumerate(row["top"], start=1):
            writer.writerow([row["name"], *([row.get("label", "")] if labelled else []), rank,
                             top["class"], top["index"], top["score"]])
    return buffer.getvalue()
