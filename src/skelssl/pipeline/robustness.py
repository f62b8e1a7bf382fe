"""Stage `robustness`: linear-probe accuracy of the pretrained encoder with k test joints zeroed
(`skelssl.evaluation.robustness`), for each drop mode and k of `evaluate.robustness`.

Writes
- `metrics.json`: {"<mode>": {"k=<k>": top1, ...}, ..., "auc": {"<mode>": mean top1 over the k
  range (trapezoid)}}, accuracies in percent, rounded to 2 decimals;
- `curve.csv`: one row per k, columns `k`, `<mode>` (mean top1) and `<mode>_std` for every mode.
  Wide on purpose: `dvc plots` draws one line per y column (it does not split a column by a
  category), so `x: k` with `y: [random, centrality]` gives one line per mode.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from skelssl.backbones import backbone_from_checkpoint
from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import ParamsError
from skelssl.evaluation.robustness import CurvePoint, area_under_curve, robustness_curve
from skelssl.io import atomic_file, load_encoder, write_json
from skelssl.pipeline.dataset import load_processed
from skelssl.repro import configure_torch, resolve_device

METRICS = "metrics.json"
CURVE = "curve.csv"


def curve_metrics(points: list[CurvePoint]) -> dict:
    modes = list(dict.fromkeys(p.mode for p in points))
    metrics: dict = {m: {f"k={p.k}": round(p.top1, 2) for p in points if p.mode == m} for m in modes}
    metrics["auc"] = {m: round(area_under_curve([p for p in points if p.mode == m]), 2) for m in modes}
    return metrics


def curve_table(points: list[CurvePoint]) -> pl.DataFrame:
    modes = list(dict.fromkeys(p.mode for p in points))
    ks = sorted({p.k for p in points})
    by = {(p.mode, p.k): p for p in points}
    columns: dict[str, list] = {"k": ks}
    for m in modes:
        columns[m] = [round(by[m, k].top1, 4) for k in ks]
        columns[f"{m}_std"] = [round(by[m, k].std, 4) for k in ks]
    return pl.DataFrame(columns)


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    cfg = params.evaluate.robustness
    if not cfg.drop or not cfg.modes:
        raise ParamsError("evaluate.robustness: `drop` and `modes` must each list at least one value")
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    too_many = [k for k in cfg.drop if k > data.layout.num_joints]
    if too_many:
        raise ParamsError(f"evaluate.robustness.drop: {too_many[0]} exceeds the "
                          f"{data.layout.num_joints} joints of the {data.layout.name} layout")
    encoder = backbone_from_checkpoint(load_encoder(encoder_path))
    train_x, _, train_y = data.split(params.base.split, train=True)
    test_x, _, test_y = data.split(params.base.split, train=False)
    points = robustness_curve(encoder, train_x, train_y, test_x, test_y, data.num_classes,
                              data.layout, cfg, params.evaluate.linear, params.evaluate.batch_size,
                              device, params.base.seed)
    metrics = curve_metrics(points)
    write_json(out_dir / METRICS, metrics)
    with atomic_file(out_dir / CURVE) as tmp:
        curve_table(points).write_csv(tmp)
    log.info("robustness: %s", metrics)
