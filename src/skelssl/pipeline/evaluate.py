"""Stage `evaluate`: linear probe and cosine kNN on the test split, for the pretrained encoder and
for a randomly initialised encoder of the same shape (what pretraining adds).

Writes `metrics.json` (accuracies in percent) and `confusion.csv` (actual, predicted) of the
pretrained encoder's linear probe, which `dvc plots` renders with its confusion template.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import torch
from torch import nn

from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.evaluation.features import extract_features, topk_accuracy
from skelssl.evaluation.knn import knn_predict
from skelssl.evaluation.linear import ProbeResult, linear_probe
from skelssl.io import atomic_file, load_encoder, write_json
from skelssl.pipeline.dataset import Processed, load_processed
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator


def _protocols(encoder: nn.Module, data: Processed, params: Params,
               device: torch.device) -> tuple[dict, ProbeResult, torch.Tensor]:
    split, ev = params.base.split, params.evaluate
    train_x, _, train_y = data.split(split, train=True)
    test_x, _, test_y = data.split(split, train=False)
    f_train = extract_features(encoder, train_x, ev.batch_size, device)
    f_test = extract_features(encoder, test_x, ev.batch_size, device)
    probe = linear_probe(f_train, train_y, f_test, test_y, data.num_classes, ev.linear,
                         torch_generator(params.base.seed, "linear"))
    knn_scores = knn_predict(f_train, train_y, f_test, data.num_classes, ev.knn.k, ev.knn.temperature)
    metrics = {"linear": {"top1": round(probe.top1, 2), "top5": round(probe.top5, 2)},
               "knn": {"top1": round(topk_accuracy(knn_scores, test_y, 1), 2)}}
    return metrics, probe, test_y


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    checkpoint = load_encoder(encoder_path)
    encoder = backbone_from_checkpoint(checkpoint)
    metrics, probe, test_y = _protocols(encoder, data, params, device)
    random_encoder = random_backbone(checkpoint["backbone"], derive_seed(params.base.seed, "random_init"))
    random_metrics, _, _ = _protocols(random_encoder, data, params, device)
    metrics["random_init"] = {"linear": {"top1": random_metrics["linear"]["top1"]},
                              "knn": random_metrics["knn"]}
    write_json(out_dir / "metrics.json", metrics)
    confusion = pl.DataFrame({"actual": [f"A{y + 1:03d}" for y in test_y.tolist()],
                              "predicted": [f"A{p + 1:03d}" for p in probe.predictions.tolist()]})
    with atomic_file(out_dir / "confusion.csv") as tmp:
        confusion.write_csv(tmp)
    log.info("evaluate: %s", metrics)
