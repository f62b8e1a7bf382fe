"""The whole DAG with tiny params, through DVC, in a temporary copy of the repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers import copy_project, finetune_update, merge

TINY = {
    "synthesize": {"classes": 6, "subjects": 4, "frames": {"min": 20, "max": 30}},
    "preprocess": {"frames": 8},
    "evaluate": {"linear": {"epochs": 3}, "finetune": finetune_update(epochs=1, batch_size=8, warmup_epochs=0),
                 "semi": {"fractions": [0.1], "repeats": 2, "epochs": 1},
                 "robustness": {"drop": [0, 4]}, "streams": {"streams": ["joint", "bone"], "epochs": 1},
                 "transfer": {"subjects": 4, "epochs": 1}, "embedding": {"samples": 40, "perplexity": 5.0}},
}
STAGES = ("synthesize", "ingest", "preprocess", "pretrain", "evaluate", "finetune", "semi", "robustness",
          "streams", "transfer", "embedding", "report")
TINY_METHOD = {"optim": {"epochs": 2, "batch_size": 8, "warmup_epochs": 1}, "backbone": {"dim": 16, "depth": 1, "heads": 2, "t_patch": 4},
               "decoder": {"dim": 16, "depth": 1, "heads": 2}, "top_k": 1}


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    dvc = Path(sys.executable).with_name("dvc")
    return subprocess.run([str(dvc), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("project")
    copy_project(dest)
    yaml = YAML(typ="safe", pure=True)
    params = merge(yaml.load(dest / "params.yaml"), TINY)
    params["methods"]["skeleton2vec"] = merge(params["methods"]["skeleton2vec"], TINY_METHOD)
    yaml.dump(params, dest / "params.yaml")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


@pytest.mark.slow
def test_dvc_repro_runs_the_dag_and_then_does_nothing(project):
    first = _dvc("repro", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    for stage in STAGES:
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads((project / "results/eval/metrics.json").read_text())
    assert set(metrics) == {"linear", "knn", "random_init"}
    assert set(metrics["linear"]) == {"top1", "top5", "best_top1", "best_epoch"}  # last epoch + best epoch
    assert metrics["linear"]["best_top1"] >= metrics["linear"]["top1"]
    assert set(metrics["random_init"]) == {"linear", "knn"}
    for value in (metrics["linear"]["top1"], metrics["knn"]["top1"],
                  metrics["random_init"]["linear"]["top1"]):
        assert 0.0 <= value <= 100.0
    loss = (project / "results/pretrain/live/plots/metrics/loss.tsv").read_text().splitlines()
    assert loss[0] == "step\tloss" and len(loss) > 1  # the live log (skelssl.live)
    for stage in ("finetune", "semi"):
        assert (project / f"results/{stage}/live/plots/custom/top1.json").is_file()
    confusion = (project / "results/eval/confusion.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted"
    protocols = {name: json.loads((project / f"results/{name}/metrics.json").read_text())
                 for name in ("finetune", "semi", "robustness", "streams", "transfer")}
    assert set(protocols["finetune"]) == {"finetune", "scratch"}
    assert set(protocols["semi"]) == {"semi", "semi_scratch"}
    assert set(protocols["semi"]["semi"]) == set(protocols["semi"]["semi_scratch"]) == {"10%"}
    assert protocols["robustness"].keys() == {"auc", "random_init"}  # the per-k points: curve.csv
    assert set(protocols["robustness"]["random_init"]["auc"]) == {"random", "centrality"}
    curve = (project / "results/robustness/curve.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in curve] == ["k", "0", "4"]
    assert set(protocols["streams"]) == {"joint", "bone", "ensemble", "random_init"}
    assert set(protocols["streams"]["random_init"]) == {"joint", "bone", "ensemble"}
    assert set(protocols["transfer"]) == {"transfer", "scratch"}  # the clip counts: info.json
    assert set(json.loads((project / "results/transfer/info.json").read_text())["target"]) == {"train", "test"}
    assert (project / "results/embedding/embedding.png").stat().st_size > 0
    report = (project / "results/report/report.md").read_text()
    assert "skeleton2vec" in report and (project / "results/report/report.png").exists()

    second = _dvc("repro", cwd=project)
    assert second.returncode == 0, second.stderr
    assert "Running stage" not in second.stdout

    shown = _dvc("metrics", "show", "--json", cwd=project)
    assert shown.returncode == 0 and "top1" in shown.stdout


@pytest.mark.slow
def test_selecting_a_method_block_only_tracks_that_block(project):
    status = _dvc("status", "pretrain", cwd=project)
    assert status.returncode == 0
    lock = YAML(typ="safe", pure=True).load(project / "dvc.lock")
    tracked = lock["stages"]["pretrain"]["params"]["params.yaml"]
    assert "method" in tracked and "methods.skeleton2vec" in tracked
