"""Every `dvc plots` plot shows what its name says: checked through `dvc plots show --json` on a
copy of the project whose plot files are written by the stages' own writers (tiny synthetic
values, the stages' layout: the live logs of pretrain, finetune and semi through `skelssl.live`)
or copied from the committed `results/`.

For each plot id the test reads the x field, the y field and the set of series (lines, or colour
groups of a scatter) that the filled Vega-Lite spec encodes, so a plot that falls back to the row
index (`step`), to the last column of a wide file, or to colouring by revision fails here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import ROOT, copy_project
from skelssl.evaluation.embedding import write_csv
from skelssl.evaluation.robustness import CurvePoint
from skelssl.io import atomic_file
from skelssl.live import LiveLog
from skelssl.pipeline.finetune import RunCurves
from skelssl.pipeline.robustness import curve_table
from skelssl.train import NOT_METRICS

DROP = [0, 2, 5]
MODES = ["random", "centrality"]
# semi runs as run_semi names them, for params other than params.yaml's (3 fractions, 2 repeats):
# the plot must not depend on evaluate.semi
SEMI_RUNS = [f"semi{kind} {fraction} #{r}" for kind in ("", " scratch")
             for fraction in ("1%", "5%", "10%") for r in range(2)]
CLASSES = [f"A{c:03d}" for c in range(1, 6)]
# what skeleton2vec logs per step (train.pretrain's row but `step` and `epoch`)
PRETRAIN_SERIES = ["lr", "loss", "grad_norm", "pred_var", "target_var", "emb_std", "emb_norm_std", "masked_pct",
                   "ema_decay"]
PRETRAIN_STEPS = 5


def _curves(results: Path, stage: str, runs: dict[str, int]) -> None:
    """The live log of `stage`'s fine-tuning runs (name → epochs), as run_finetune / run_semi log it."""
    live = LiveLog(results / stage, stage, {"stage": stage})
    curves = RunCurves(live)
    for i, (run, epochs) in enumerate(runs.items()):
        on_epoch = curves.on_epoch(run, run.replace(" ", "/"))
        for epoch in range(1, epochs + 1):
            on_epoch(epoch, 1.0 / epoch + i, 10.0 * epoch + i)
    live.close()


def _write_plot_files(project: Path) -> None:
    results = project / "results"
    for sub in ("robustness", "embedding", "eval"):
        (results / sub).mkdir(parents=True, exist_ok=True)
    _curves(results, "finetune", {"finetune": 3, "scratch": 3})
    _curves(results, "semi", {run: 4 for run in SEMI_RUNS})
    live = LiveLog(results / "pretrain", "pretrain", {"method": "skeleton2vec"}, NOT_METRICS)
    for step in range(PRETRAIN_STEPS):
        live.log(step, {name: 1.0 / (step + 1) + i for i, name in enumerate(PRETRAIN_SERIES)})
    live.close()
    points = [CurvePoint(mode, k, 80.0 - 5 * k, 0.5) for mode in MODES for k in DROP]
    baseline = [CurvePoint(mode, k, 50.0 - 3 * k, 0.5) for mode in MODES for k in DROP]
    with atomic_file(results / "robustness" / "curve.csv") as tmp:
        curve_table(points, baseline).write_csv(tmp)
    labels = [CLASSES[i % len(CLASSES)] for i in range(20)]
    write_csv(results / "embedding" / "embedding.csv", np.random.default_rng(0).normal(size=(20, 2)), labels)
    # files written by the probe (no cheap writer to call): the committed ones, or a stand-in
    for rel in ("results/eval/confusion.csv", "results/embedding/embedding.png"):
        if (ROOT / rel).is_file():
            shutil.copy2(ROOT / rel, project / rel)
    if not (results / "eval" / "confusion.csv").is_file():
        (results / "eval" / "confusion.csv").write_text("actual,predicted\nA001,A001\nA002,A001\n")
    if not (results / "embedding" / "embedding.png").is_file():
        shutil.copy2(ROOT / "docs" / "report" / "report.png", results / "embedding" / "embedding.png")


@pytest.fixture(scope="module")
def plots(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    project = tmp_path_factory.mktemp("plots")
    copy_project(project)
    _write_plot_files(project)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc = Path(sys.executable).with_name("dvc")
    done = subprocess.run([str(dvc), "plots", "show", "--json"], cwd=project, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = json.loads(done.stdout)
    assert not shown.get("errors"), shown["errors"]
    return shown["data"]


def _first_field(node: Any, channel: str) -> str | None:
    """The field of the first `encoding.<channel>` (depth first) that names one."""
    if isinstance(node, dict):
        enc = node.get("encoding")
        if isinstance(enc, dict) and isinstance(enc.get(channel), dict) and "field" in enc[channel]:
            return enc[channel]["field"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        if (found := _first_field(child, channel)) is not None:
            return found
    return None


def _axes(plots: dict, plot_id: str) -> tuple[str, str, set[str], list[dict]]:
    """(x field, y field, series names, data points) of one vega plot."""
    (entry,) = plots[plot_id]
    assert entry["type"] == "vega", plot_id
    content = entry["content"]
    values = content["data"]["values"]
    x, y = _first_field(content, "x"), _first_field(content, "y")
    color = _first_field(content, "color")
    if y == "dvc_inferred_y_value":  # several y columns: one line per column (DVC's `field`, or
        # `filename::field` when they come from several files)
        series = {v["field"] if "field" in v else v["filename::field"].rsplit("::", 1)[1] for v in values}
    elif color not in (None, "rev") and color in values[0]:  # coloured by a data column
        series = {v[color] for v in values}
    else:
        series = {y}
    return x, y, series, values


PRETRAIN_LIVE = "results/pretrain/live/plots/metrics/"
FINETUNE_LIVE = "results/finetune/live/plots/custom/"
SEMI_LIVE = "results/semi/live/plots/custom/"


def test_plot_ids_are_the_defined_plots_only(plots):
    # the wide curve.csv is not also drawn on its own (DVC would plot row index vs its last column)
    assert set(plots) == {"collapse_diagnostics", "missing_joints",
                          *(f"{PRETRAIN_LIVE}{name}.tsv" for name in PRETRAIN_SERIES),
                          f"{FINETUNE_LIVE}top1.json", f"{FINETUNE_LIVE}loss.json",
                          f"{SEMI_LIVE}top1.json", f"{SEMI_LIVE}loss.json",
                          "results/eval/confusion.csv", "results/embedding/embedding.csv",
                          "results/embedding/embedding.png"}
    (png,) = plots["results/embedding/embedding.png"]
    assert png["type"] == "image"


@pytest.mark.parametrize("name", PRETRAIN_SERIES)
def test_pretrain_live_curves_have_step_on_x_and_every_step(plots, name):
    x, y, series, values = _axes(plots, f"{PRETRAIN_LIVE}{name}.tsv")
    assert (x, y, series) == ("step", name, {name})
    assert [int(v["step"]) for v in values] == list(range(PRETRAIN_STEPS))


def test_collapse_diagnostics(plots):
    x, y, series, values = _axes(plots, "collapse_diagnostics")
    assert (x, series) == ("step", {"emb_std", "emb_norm_std"})
    assert len(values) == 2 * PRETRAIN_STEPS


def test_missing_joints_curve_has_k_on_x_and_one_line_per_mode_and_encoder(plots):
    x, _, series, values = _axes(plots, "missing_joints")
    assert x == "k"
    assert series == {"random", "centrality", "random_random_init", "centrality_random_init"}
    assert sorted({int(v["k"]) for v in values}) == DROP


@pytest.mark.parametrize("y", ["top1", "loss"])
def test_finetune_curves_show_pretrained_and_scratch(plots, y):
    x, y_field, series, values = _axes(plots, f"{FINETUNE_LIVE}{y}.json")
    assert (x, y_field, series) == ("epoch", y, {"finetune", "scratch"})
    assert sorted(int(v["epoch"]) for v in values if v["series"] == "scratch") == [1, 2, 3]


@pytest.mark.parametrize("y", ["top1", "loss"])
def test_semi_curves_show_every_subset_whatever_the_params(plots, y):
    x, y_field, series, values = _axes(plots, f"{SEMI_LIVE}{y}.json")
    assert (x, y_field, series) == ("epoch", y, set(SEMI_RUNS))
    assert len(values) == 4 * len(SEMI_RUNS)


def test_embedding_scatter_is_coloured_by_class(plots):
    x, y, series, values = _axes(plots, "results/embedding/embedding.csv")
    assert (x, y, series) == ("x", "y", set(CLASSES))
    assert len(values) == 20


def test_confusion_matrix_axes(plots):
    x, y, _, _ = _axes(plots, "results/eval/confusion.csv")
    assert (x, y) == ("actual", "predicted")
