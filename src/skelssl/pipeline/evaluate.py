"""Stage `evaluate`: linear probe and cosine kNN on the test split, for the pretrained encoder and
for a randomly initialised encoder of the same shape (what pretraining adds).

The linear probe's recipe, augmentation included, is `evaluate.linear` (skelssl.evaluation.linear);
its headline `linear.top1` is the last epoch's, `linear.best_top1` / `linear.best_epoch` the best
epoch's (MAMP reports the best epoch), labelled as such.

Writes `metrics.json` (accuracies in percent) and `confusion.csv` (actual, predicted) of the
pretrained encoder's linear probe, which `dvc plots` renders with its confusion template.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import torch
from torch import nn

from skelssl.outputs import claim_output_dir
from skelssl.augment import clip_spans
from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.evaluation.features import extract_augmented_features, extract_features, topk_accuracy
from skelssl.evaluation.knn import knn_predict
from skelssl.evaluation.linear import ProbeResult, linear_probe
from skelssl.io import atomic_file, write_json
from skelssl.evaluation.model_file import ProbeClassifier, save_stage_classifier
from skelssl.pipeline.dataset import Processed, load_encoder_for, load_processed, read_meta
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator

PROBE = "probe.pt"  # the encoder + linear-probe head, in the stage's model folder


def _protocols(encoder: nn.Module, data: Processed, params: Params,
               device: torch.device) -> tuple[dict, ProbeResult, torch.Tensor]:
    split, ev = params.base.split, params.evaluate
    train_x, _, train_y = data.split(split, train=True)
    test_x, _, test_y = data.split(split, train=False)
    f_train = extract_features(encoder, train_x, ev.batch_size, device)
    f_test = extract_features(encoder, test_x, ev.batch_size, device)
    probe_train: torch.Tensor | Callable[[int], torch.Tensor] = f_train
    aug = ev.linear.augment
    if aug.kind == "crop_rotate":  # fresh crops and rotations every epoch, through the frozen encoder
        valid = data.valid_frames(split, train=True)
        spans = None if valid is None else clip_spans(valid, params.preprocess.crop_ratio)

        def probe_train(epoch: int) -> torch.Tensor:
            return extract_augmented_features(encoder, train_x, ev.batch_size, device, aug,
                                              torch_generator(params.base.seed, "linear_augment", epoch),
                                              spans)
    probe = linear_probe(probe_train, train_y, f_test, test_y, data.num_classes, ev.linear,
                         torch_generator(params.base.seed, "linear"))
    knn_scores = knn_predict(f_train, train_y, f_test, data.num_classes, ev.knn.k, ev.knn.temperature)
    # headline: the last epoch; best_top1 / best_epoch (1-based): the best epoch on the test set
    metrics = {"linear": {"top1": round(probe.top1, 2), "top5": round(probe.top5, 2),
                          "best_top1": round(probe.best_top1, 2), "best_epoch": probe.best_epoch},
               "knn": {"top1": round(topk_accuracy(knn_scores, test_y, 1), 2)}}
    return metrics, probe, test_y


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path,
        model_dir: Path | None = None) -> None:
    """The protocols; with `model_dir` (dvc.yaml: artifacts/eval), the pretrained encoder with its
    trained linear-probe head is saved there as `probe.pt` for `skelssl predict` and `skelssl
    export` (format: skelssl.evaluation.model_file)."""
    claim_output_dir(out_dir, "evaluate", ("metrics.json", "confusion.csv"), inputs=(processed_dir, encoder_path))
    if model_dir is not None:
        claim_output_dir(model_dir, "evaluate", (PROBE,), inputs=(processed_dir, encoder_path))
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    checkpoint = load_encoder_for(encoder_path, data, str(processed_dir))
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
        with open(tmp, "w", newline="") as handle:  # polars would expand `~`
            confusion.write_csv(handle)
    if model_dir is not None:
        assert probe.head is not None
        save_stage_classifier(model_dir / PROBE, ProbeClassifier(encoder, probe.head), "linear_probe",
                              params.evaluate.linear.head, checkpoint, data.index, data.x.shape[1],
                              read_meta(processed_dir),
                              {"method": checkpoint.get("meta", {}).get("method"), "seed": params.base.seed,
                               "split": params.base.split, "metrics": metrics["linear"]})
    log.info("evaluate: %s", metrics)
