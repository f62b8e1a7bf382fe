"""Trained models as files (issue 14, items 6 and 7): the finetune and evaluate stages save their
classifiers, `skelssl predict` classifies raw sequences with them (the training run's reading and
preprocessing, from the model file), `skelssl export` writes TorchScript that plain torch loads and
that gives the eager model's logits, and dvc.yaml declares the models as DVC artifacts."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from helpers import ROOT, copy_project, default_params, finetune_update, merge, tiny_method_params
from skelssl.backbones import backbone_spec, build_backbone
from skelssl.cli import app
from skelssl.config import Params
from skelssl.evaluation.heads import build_classifier
from skelssl.evaluation.linear import linear_head
from skelssl.evaluation.model_file import ProbeClassifier, build_model, read_classifier, save_stage_classifier
from skelssl.errors import SkelsslError
from skelssl.io import load_encoder, save_encoder
from skelssl.outputs import marker_stage
from skelssl.pipeline.dataset import load_processed, read_meta
from skelssl.skeleton import NTU25

FRAMES = 8
CLASSES = ("jump", "walk", "wave")  # text labels: class names sorted, as the generic source maps them
BACKBONE_OF = {"transformer": "skeleton2vec", "stgcn": "pstl", "gin": "skeletonmae_graph"}


def _params() -> Params:
    data = default_params().model_dump(mode="json")
    data["ingest"].update(source="generic", layout="ntu25", workers=1)
    data["preprocess"].update(frames=FRAMES)
    data["pretrain"].update(device="cpu", threads=1)
    data["evaluate"]["finetune"] = merge(data["evaluate"]["finetune"], finetune_update(epochs=1, batch_size=8))
    data["evaluate"]["linear"].update(epochs=1, batch_size=8)
    data["methods"]["skeleton2vec"] = tiny_method_params("skeleton2vec").model_dump(mode="json")
    return Params.model_validate(data)


def _write_raw(folder: Path, n: int = 24) -> None:
    """A generic-source dataset: n sequences (T, 25, 3) of 10-20 frames, labelled by name."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    rows = ["name,label,xsub_train"]
    for i in range(n):
        label = CLASSES[i % 3]
        x = 0.1 * rng.normal(size=(10 + i % 11, 25, 3)).astype(np.float32)
        x[..., 0] += (i % 3) * np.linspace(0, 1, len(x))[:, None]
        np.save(folder / f"seq{i:02d}.npy", x)
        rows.append(f"seq{i:02d},{label},{int(i < 16)}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """raw/ (generic source), processed/, encoder.pt and the stages' model files (finetune/, eval/)."""
    from skelssl.pipeline import evaluate, finetune, ingest, preprocess

    root = tmp_path_factory.mktemp("models")
    params = _params()
    _write_raw(root / "raw")
    ingest.run(params, root / "raw", root / "ingested")
    preprocess.run(params, root / "ingested", root / "processed")
    cfg = params.methods.skeleton2vec.backbone
    torch.manual_seed(0)
    save_encoder(root / "encoder.pt", build_backbone(cfg, NTU25, FRAMES).state_dict(),
                 backbone_spec(cfg, NTU25, FRAMES), {"method": "skeleton2vec"})
    finetune.run_finetune(params, root / "processed", root / "encoder.pt", root / "results_ft", root / "finetune")
    evaluate.run(params, root / "processed", root / "encoder.pt", root / "results_eval", root / "eval")
    return root


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_stages_save_self_describing_models(trained):
    params = _params()
    for folder, name, stage, protocol in (("finetune", "classifier.pt", "finetune", "finetune"),
                                          ("eval", "probe.pt", "evaluate", "linear_probe")):
        path = trained / folder / name
        assert marker_stage(path.parent) == stage
        payload = torch.load(path, map_location="cpu", weights_only=True)
        assert payload["kind"] == "skelssl-classifier" and payload["protocol"] == protocol
        assert payload["classes"] == list(CLASSES) and payload["layout"] == "ntu25"
        assert payload["persons"] == 1 and payload["frames"] == FRAMES
        assert payload["data"]["source"] == "generic"
        assert payload["data"]["preprocess"] == params.preprocess.model_dump(mode="json")
        assert payload["data"]["ingest"]["second_person"] == params.ingest.second_person
        assert payload["meta"]["method"] == "skeleton2vec" and payload["meta"]["split"] == "xsub"
        assert "top1" in json.dumps(payload["meta"]["metrics"])
        json.dumps({k: v for k, v in payload.items() if k != "state_dict"})  # JSON-able besides tensors
        tensors = sum(v.numel() * v.element_size() for v in payload["state_dict"].values())
        assert path.stat().st_size < tensors + 200_000  # the weights and little else (no optimizer state)
    assert sorted(p.name for p in (trained / "finetune").iterdir()) == [".skelssl-output", "classifier.pt"]


def test_predict_json_matches_the_model_on_the_processed_clips(trained):
    model_path = trained / "finetune" / "classifier.pt"
    result = _invoke("predict", str(model_path), str(trained / "raw"), "--top-k", "2")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    data = load_processed(trained / "processed")
    assert [r["name"] for r in rows] == data.index["name"].to_list()
    assert [r["label"] for r in rows] == data.index["class_name"].to_list()
    model = build_model(read_classifier(model_path))
    with torch.no_grad():
        scores = model(data.x).softmax(dim=1)  # the training preprocessing, from the processed stage
    for row, expected in zip(rows, scores, strict=True):
        assert len(row["top"]) == 2 and row["top"][0]["score"] >= row["top"][1]["score"]
        assert row["top"][0]["index"] == int(expected.argmax())
        assert row["top"][0]["class"] == CLASSES[row["top"][0]["index"]]
        assert abs(row["top"][0]["score"] - float(expected.max())) < 1e-5


def test_predict_csv_to_a_file_and_unlabelled_input(trained, tmp_path):
    probe = trained / "eval" / "probe.pt"
    out = tmp_path / "pred.csv"
    result = _invoke("predict", str(probe), str(trained / "raw"), "--format", "csv", "--top-k", "3",
                     "--out", str(out))
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(table[0]) == ["name", "label", "rank", "class", "index", "score"]
    assert len(table) == 24 * 3 and {r["class"] for r in table} == set(CLASSES)
    assert [r["rank"] for r in table[:3]] == ["1", "2", "3"]
    again = _invoke("predict", str(probe), str(trained / "raw"), "--out", str(out))
    assert again.exit_code == 1 and "refusing to overwrite" in again.output
    assert len(again.output.strip().splitlines()) == 1

    unlabelled = tmp_path / "new"
    unlabelled.mkdir()
    for name in ("seq03", "seq07"):
        (unlabelled / f"{name}.npy").write_bytes((trained / "raw" / f"{name}.npy").read_bytes())
    folder = json.loads(_invoke("predict", str(probe), str(unlabelled), "--top-k", "1").stdout)
    labelled = {r["name"]: r for r in json.loads(_invoke("predict", str(probe), str(trained / "raw")).stdout)}
    assert [r["name"] for r in folder] == ["seq03", "seq07"] and "label" not in folder[0]
    for row in folder:
        assert row["top"][0] == labelled[row["name"]]["top"][0]
    single = json.loads(_invoke("predict", str(probe), str(unlabelled / "seq07.npy")).stdout)
    assert single[0]["name"] == "seq07" and single[0]["top"] == labelled["seq07"]["top"]


def test_predict_errors_are_one_line(trained, tmp_path):
    for args, message in (([str(trained / "encoder.pt"), str(trained / "raw")], "not a skelssl classifier file"),
                          ([str(tmp_path / "none.pt"), str(trained / "raw")], "model file not found"),
                          ([str(trained / "eval" / "probe.pt"), str(tmp_path)], "no .npy sequence arrays"),
                          ([str(trained / "eval" / "probe.pt"), str(trained / "raw"), "--format", "xml"],
                           "--format")):
        result = _invoke("predict", *args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_bad_model_files_and_checkpoints_fail_with_one_line_naming_the_file(tmp_path):
    """Encoder checkpoints and model files share one loader (skelssl.io.load_torch_file): a missing
    file, a folder, foreign bytes, a pickled object or a non-dict is a one-line SkelsslError."""
    (tmp_path / "folder.pt").mkdir()
    (tmp_path / "corrupt.pt").write_bytes(b"user weights")
    torch.save({"args": argparse.Namespace(lr=1.0)}, tmp_path / "pickled.pt")  # weights_only refuses it
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    cases = {"missing.pt": "{what} not found", "folder.pt": "is a folder, not {a} {what}",
             "corrupt.pt": "not a valid {what} (", "pickled.pt": "not a valid {what} (",
             "list.pt": "not a skelssl {what}"}
    for load, what, a in ((load_encoder, "encoder checkpoint", "an"), (read_classifier, "model file", "a")):
        for name, message in cases.items():
            with pytest.raises(SkelsslError) as err:
                load(tmp_path / name)
            text = str(err.value)
            assert text.startswith(f"{tmp_path / name}: {message.format(what=what, a=a)}"), text
            assert "\n" not in text, text


def _model_file(folder: Path, backbone: str, protocol: str, trained: Path) -> Path:
    """A tiny classifier of `backbone` saved the way the stages save theirs (random weights, BN stats
    perturbed so eval-mode normalisation is not the identity)."""
    cfg = tiny_method_params(BACKBONE_OF[backbone]).backbone
    torch.manual_seed(1)
    encoder = build_backbone(cfg, NTU25, FRAMES)
    if protocol == "finetune":
        model = build_classifier(backbone, encoder, len(CLASSES), 0.0, 1)
    else:
        model = ProbeClassifier(encoder, linear_head(encoder.out_dim, len(CLASSES), torch.Generator()))
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    data = load_processed(trained / "processed")
    checkpoint = {"backbone": backbone_spec(cfg, NTU25, FRAMES), "meta": {"method": BACKBONE_OF[backbone]}}
    path = folder / f"{backbone}-{protocol}.pt"
    save_stage_classifier(path, model.eval(), protocol, backbone if protocol == "finetune" else "bn_linear",
                          checkpoint, data.index, 1, read_meta(trained / "processed"),
                          {"method": BACKBONE_OF[backbone], "split": "xsub"})
    return path


@pytest.mark.parametrize("backbone", ["transformer", "stgcn", "gin"])
def test_export_matches_the_eager_model(backbone, trained, tmp_path):
    from skelssl.export import example_input, load_exported

    for protocol in ("finetune", "linear_probe"):
        path = _model_file(tmp_path, backbone, protocol, trained)
        out = tmp_path / f"{backbone}-{protocol}.ts"
        result = _invoke("export", str(path), str(out))
        assert result.exit_code == 0, result.output
        payload = read_classifier(path)
        eager = build_model(payload)
        module, meta = load_exported(out)
        for batch in (1, 5):  # traced with 2 clips: the batch size stays free
            x = example_input(payload, batch=batch, seed=batch)
            with torch.no_grad():
                assert torch.allclose(module(x), eager(x), rtol=0, atol=1e-5), (backbone, protocol, batch)
        assert meta["classes"] == list(CLASSES) and meta["layout"] == "ntu25"
        assert meta["preprocess"] == _params().preprocess.model_dump(mode="json")
        assert (meta["persons"], meta["frames"], len(meta["joint_names"])) == (1, FRAMES, 25)


def test_export_loads_without_skelssl_and_refuses_to_overwrite(trained, tmp_path):
    out = tmp_path / "probe.ts"
    assert _invoke("export", str(trained / "eval" / "probe.pt"), str(out)).exit_code == 0
    code = ("import sys, json, torch; sys.modules['skelssl'] = None\n"
            "extra = {'skelssl.json': ''}\n"
            f"m = torch.jit.load({str(out)!r}, map_location='cpu', _extra_files=extra)\n"
            "meta = json.loads(extra['skelssl.json'])\n"
            "x = torch.zeros(3, meta['persons'], meta['frames'], len(meta['joint_names']), meta['channels'])\n"
            "print(json.dumps([list(m(x).shape), meta['classes'], meta['preprocess']['frames']]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [[3, 3], list(CLASSES), FRAMES]
    before = out.read_bytes()
    refused = _invoke("export", str(trained / "finetune" / "classifier.pt"), str(out))
    assert refused.exit_code == 1 and "refusing to overwrite" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and out.read_bytes() == before
    assert _invoke("export", str(trained / "finetune" / "classifier.pt"), str(out), "--overwrite").exit_code == 0
    assert out.read_bytes() != before


def test_dvc_yaml_declares_the_models_as_artifacts(tmp_path):
    """`dvc artifacts get` / the model registry see the encoder and both classifiers, labelled with
    the run's method, data source and split (templated from params.yaml), each a stage output."""
    from dvc.repo import Repo

    copy_project(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    params = (tmp_path / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(params.replace("\nmethod: skeleton2vec", "\nmethod: mamp", 1))
    repo = Repo(str(tmp_path))
    try:
        artifacts = repo.artifacts.read()["dvc.yaml"]
        outs = {str(Path(out.fspath).relative_to(tmp_path)) for stage in repo.index.stages for out in stage.outs}
    finally:
        repo.close()
    assert set(artifacts) == {"encoder", "finetuned-classifier", "probe-classifier"}
    for name, artifact in artifacts.items():
        assert artifact.type == "model" and artifact.desc
        assert artifact.labels[:3] == ["method=mamp", "data=ntu", "split=xsub"], name
        assert artifact.path in outs, artifact.path
    assert artifacts["finetuned-classifier"].path == "artifacts/finetune/classifier.pt"
    assert artifacts["probe-classifier"].path == "artifacts/eval/probe.pt"
    assert ROOT.joinpath("dvc.yaml").read_text().count("type: model") == 3
