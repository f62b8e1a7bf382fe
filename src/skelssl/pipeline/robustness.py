"""Stage `robustness`: linear-probe accuracy of the pretrained encoder with k test joints zeroed
(`skelssl.evaluation.robustness`), for each drop mode and k of `evaluate.robustness`, and the same
curve for the random-init encoder (the evaluate stage's baseline: seed key "random_init"; same
probe recipe and the same drawn joints, since the draws' generators depend only on mode, k, repeat).

Writes
- `metrics.json`: {"auc": {"<mode>": mean top1 over the k range (trapezoid)}, "random_init": {"auc":
  {...} of the random-init encoder}}, percent, rounded to 2 decimals: one number per mode and
  encoder, so `dvc metrics show` / `dvc exp show` stay readable; the points of the curve are in
  `curve.csv` (not repeated as metrics);
- `curve.csv`: one row per k, columns `k`, `<mode>` (mean top1) and `<mode>_std` for every mode,
  then `<mode>_random_init` and `<mode>_random_init_std` for every mode.
  Wide on purpose: `dvc plots` draws one line per y column (it does not split a column by a
  category), so `x: k` with `y: [random, centrality, ...]` gives one line per mode and encoder.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import ParamsError
from skelssl.evaluation.robustness import CurvePoint, area_under_curve, robustness_curve
from skelssl.io import atomic_file, write_json
from skelssl.pipeline.dataset import load_encoder_for, load_processed
from skelssl.repro import configure_torch, derive_seed, resolve_device

METRICS = "metrics.json"
CURVE = "curve.csv"


def curve_metrics(points: list[CurvePoint]) -> dict:
    """{"auc": {mode: area under the mode's curve}} (the per-k points: `curve_table`)."""
    modes = list(dict.fromkeys(p.mode for p in points))
    return {"auc": {m: round(area_under_curve([p for p in points if p.mode == m]), 2) for m in modes}}


def curve_table(points: list[CurvePoint], random_init: list[CurvePoint] | None = None) -> pl.DataFrame:
    """`random_init`: the baseline encoder's points (same modes and ks), columns suffixed `_random_init`."""
    ks = sorted({p.k for p in points})
    columns: dict[str, list] = {"k": ks}
    for suffix, curve in (("", points), ("_random_init", random_init or [])):
        by = {(p.mode, p.k): p for p in curve}
        for m in dict.fromkeys(p.mode for p in curve):
            columns[f"{m}{suffix}"] = [round(by[m, k].top1, 4) for k in ks]
            columns[f"{m}{suffix}_std"] = [round(by[m, k].std, 4) for k in ks]
    return pl.DataFrame(columns)


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    claim_output_dir(out_dir, "robustness", (METRICS, CURVE), inputs=(processed_dir, encoder_path))
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
    checkpoint = load_encoder_for(encoder_path, data, str(processed_dir))
    train_x, _, train_y = data.split(params.base.split, train=True)
    test_x, _, test_y = data.split(params.base.split, train=False)
    curves = {}
    for which, encoder in (("pretrained", backbone_from_checkpoint(checkpoint)),
                           ("random_init", random_backbone(checkpoint["backbone"],
                                                           derive_seed(params.base.seed, "random_init")))):
        log.info("robustness: %s encoder", which)
        curves[which] = robustness_curve(encoder, train_x, train_y, test_x, test_y, data.num_classes,
                                       data.layout, cfg, params.evaluate.linear, params.evaluate.batch_size,
                                       device, params.base.seed)
    metrics = curve_metrics(curves["pretrained"]) | {"random_init": curve_metrics(curves["random_init"])}
    write_json(out_dir / METRICS, metrics)
    with atomic_file(out_dir / CURVE) as tmp:
        with open(tmp, "w", newline="") as handle:  # polars would expand `~`
            curve_table(curves["pretrained"], curves["random_init"]).write_csv(handle)
    log.info("robustness: %s", metrics)
