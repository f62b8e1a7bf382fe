"""Malformed inputs of `skelssl predict`, `skelssl export` and `skelssl export-pyskl` give one
`error:` line naming the file (or the option) and exit 1, never a traceback, and write nothing:
model files that pass the kind/format/protocol checks but lack or mistype what predict and export
use, an unknown `--source`, invalid reading options stored in a model file, and corrupt ingest
folders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch

from helpers import default_params, invoke_cli, one_error_line, tiny_method_params
from skelssl.backbones import backbone_spec, build_backbone
from skelssl.evaluation.heads import build_classifier
from skelssl.evaluation.model_file import save_classifier
from skelssl.pipeline import ingest
from skelssl.skeleton import NTU25

FRAMES = 8
CLASSES = ["jump", "walk", "wave"]
DROP = object()  # a `_mangled` change that removes the key


def _invoke(*args: str):
    return invoke_cli(list(args))


def _one_error_line(result) -> str:
    return one_error_line(result, alone=True)


def _write_sequences(folder: Path, n: int = 6, labels: bool = False) -> Path:
    """n generic-source sequences (T, 25, 3) of 10-15 frames; with `labels`, a labels.csv too."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        np.save(folder / f"seq{i}.npy", 0.1 * rng.normal(size=(10 + i, 25, 3)).astype(np.float32))
    if labels:
        rows = [f"seq{i},{CLASSES[i % 3]},{int(i < n - 2)}" for i in range(n)]
        (folder / "labels.csv").write_text("\n".join(["name,label,xsub_train", *rows]) + "\n")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """model.pt (a tiny fine-tuned transformer saved as the finetune stage saves it) and raw/."""
    root = tmp_path_factory.mktemp("model_file_errors")
    params = default_params()
    cfg = tiny_method_params("skeleton2vec").backbone
    torch.manual_seed(0)
    model = build_classifier("transformer", build_backbone(cfg, NTU25, FRAMES), len(CLASSES), 0.0, 1)
    preprocess = {**params.preprocess.model_dump(mode="json"), "frames": FRAMES}
    data = {"source": "generic", "ingest": ingest.reading_options(params.ingest), "preprocess": preprocess}
    save_classifier(root / "model.pt", model.eval(), "finetune", backbone_spec(cfg, NTU25, FRAMES),
                    {"kind": "transformer"}, CLASSES, None, 1, data, {"method": "skeleton2vec"})
    _write_sequences(root / "raw")
    return root


def _mangled(built: Path, folder: Path, changes: dict[str, Any]) -> Path:
    """A copy of the model file with `changes` applied: dotted keys, DROP removes the key."""
    payload = torch.load(built / "model.pt", map_location="cpu", weights_only=True)
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        target = payload
        for part in parents:
            target = target[part]
        if value is DROP:
            del target[key]
        else:
            target[key] = value
    path = folder / "bad model.pt"
    torch.save(payload, path)
    return path


def test_the_unmangled_model_file_works(built, tmp_path):
    assert _invoke("predict", str(built / "model.pt"), str(built / "raw")).exit_code == 0
    assert _invoke("export", str(built / "model.pt"), str(tmp_path / "m.ts")).exit_code == 0


# id: (changes, text the error line names besides the file)
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "only-kind-format-protocol": ({k: DROP for k in ("state_dict", "backbone", "head", "classes", "label_mapping",
                                                     "layout", "persons", "frames", "data", "meta")},
                                  "state_dict: missing"),
    "no-backbone": ({"backbone": DROP}, "backbone: missing"),
    "no-layout": ({"layout": DROP}, "layout: missing"),
    "persons-str": ({"persons": "x"}, "persons: "),
    "persons-zero": ({"persons": 0}, "persons: "),
    "frames-float": ({"frames": 2.5}, "frames: "),
    "too-few-class-names": ({"classes": ["a"]}, "classes: "),
    "class-names-not-str": ({"classes": [1, 2, 3]}, "classes: "),
    "layout-unknown": ({"layout": "bogus"}, "layout: "),
    "backbone-layout-unknown": ({"backbone.layout": "bogus"}, "backbone.layout: "),
    "backbone-config-invalid": ({"backbone.config.depth": "deep"}, "backbone.config.depth: "),
    "backbone-config-str": ({"backbone.config": "transformer"}, "backbone.config: "),
    "head-kind-unknown": ({"head.kind": "mlp"}, "head.kind: "),
    "head-classes-mismatch": ({"head.classes": 5}, "classes: "),
    "state-dict-list": ({"state_dict": ["weights"]}, "state_dict: "),
    "data-str": ({"data": "generic"}, "data: "),
    "preprocess-invalid": ({"data.preprocess.crop_ratio": "most"}, "data.preprocess.crop_ratio: "),
    "preprocess-frames-inconsistent": ({"data.preprocess.frames": 16}, "inconsistent"),
    "label-mapping-tensor": ({"label_mapping": {"original_label": torch.zeros(3)}}, "label_mapping: "),
    "meta-list": ({"meta": [1]}, "meta: "),
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("command", ["predict", "export"])
def test_malformed_model_file_is_one_line_naming_file_and_key(built, tmp_path, command, case):
    changes, names = MALFORMED[case]
    path = _mangled(built, tmp_path, changes)
    out = tmp_path / "out.ts"
    result = _invoke(command, str(path), str(built / "raw") if command == "predict" else str(out))
    line = _one_error_line(result)
    assert line.startswith(f"error: {path}: ") and names in line, line
    assert not out.exists()


def test_unknown_source_option_is_named_before_the_model_options(built):
    line = _one_error_line(_invoke("predict", str(built / "model.pt"), str(built / "raw"), "--source", "bogus"))
    assert line.startswith("error: --source: ") and "'bogus'" in line and "generic" in line and "ntu" in line
    assert "model file" not in line and "pydantic" not in line


def test_invalid_stored_reading_options_name_the_model_file_and_key(built, tmp_path):
    path = _mangled(built, tmp_path, {"data.ingest.denoise.min_frames": "many"})
    line = _one_error_line(_invoke("predict", str(path), str(built / "raw")))
    assert line.startswith(f"error: {path}: ") and "data.ingest.denoise.min_frames" in line, line
    assert "pydantic" not in line


# ---------------------------------------------------------------------------- export-pyskl


@pytest.fixture
def ingested(tmp_path) -> Path:
    """An ingest artifact of six generic-source sequences."""
    logging.getLogger("skelssl").handlers.clear()  # a handler of an earlier CLI run writes to a closed stream
    params = default_params()
    params = params.model_copy(update={"ingest": params.ingest.model_copy(
        update={"source": "generic", "layout": "ntu25", "workers": 1})})
    ingest.run(params, _write_sequences(tmp_path / "raw", labels=True), tmp_path / "ingested")
    return tmp_path / "ingested"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _reshape(path: Path) -> None:
    joints = np.load(path)
    np.save(path, joints.reshape(len(joints), -1))


def _shift_offsets(path: Path) -> None:
    pl.read_parquet(path).with_columns(pl.col("offset") + 1).write_parquet(path)


# id: (file, how it is corrupted, what the error line says after the folder)
CORRUPT = {
    "index-random-bytes": ("index.parquet", lambda path: path.write_bytes(np.random.default_rng(0).bytes(4000)),
                           "/index.parquet: not a readable"),
    "joints-truncated": ("joints.npy", _truncate, "/joints.npy: "),
    "joints-wrong-shape": ("joints.npy", _reshape, ": index offsets do not match joints.npy"),
    "index-offsets-shifted": ("index.parquet", _shift_offsets, ": index offsets do not match joints.npy"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_export_pyskl_of_a_corrupt_ingest_folder_is_one_line(ingested, tmp_path, case):
    name, corrupt, says = CORRUPT[case]
    corrupt(ingested / name)
    out = tmp_path / "out.pkl"
    line = _one_error_line(_invoke("export-pyskl", str(ingested), str(out)))
    assert line.startswith(f"error: {ingested}{says}"), line
    assert not out.exists()
