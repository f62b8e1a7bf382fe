"""Stages `finetune` and `semi`: end-to-end training on the labelled training split, tested on the
test split (`skelssl.evaluation.finetune` holds the recipe).

`run_finetune` writes `metrics.json` {"finetune": …, "scratch": …} (each: top1_last, the headline;
top1_best and best_epoch, the maximum over epochs that MAMP's script reports) and `history.tsv`
(long: epoch, series = the run, top1 = test top-1 after that epoch) for `dvc plots`. The scratch
baseline is the same recipe from the randomly initialised encoder that stage `evaluate` also uses
(seed key "random_init"), with layer_decay 1.0 (MAMP's scratch setting).

`run_semi` fine-tunes on `evaluate.semi.repeats` label subsets per fraction for
`evaluate.semi.epochs` epochs; repeat r of fraction f draws its subset and its training randomness
from the seed derive_seed(base.seed, f"semi/{f}/{r}"); metrics.json holds per fraction ("1%",
"10%") the last-epoch top-1 of each run, their mean and sample standard deviation (0 for one
run), and the mean of the per-run best top-1; history.tsv as above, one run per subset.
Baseline: every subset is also fine-tuned from the random-init encoder with the scratch recipe
(layer_decay 1.0, same `evaluate.semi.epochs`, generator key "scratch" of the run's seed), on
exactly the same subset; metrics.json holds those summaries under the top-level key
"semi_scratch" (next to "semi"; "scratch" already names the full-label baseline) and history.tsv
appends their runs (series "semi scratch 1% #0", …) after the pretrained runs'.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.evaluation.finetune import FinetuneResult, finetune
from skelssl.evaluation.subsets import label_subset
from skelssl.io import atomic_file, load_encoder, write_json
from skelssl.evaluation.model_file import save_stage_classifier
from skelssl.pipeline.dataset import Processed, load_processed, read_meta
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator

METRICS = "metrics.json"
CLASSIFIER = "classifier.pt"  # the fine-tuned model, in the stage's model folder
HISTORY = "history.tsv"

Split = tuple[torch.Tensor, torch.Tensor]


def _setup(params: Params, processed_dir: Path, encoder_path: Path
           ) -> tuple[Processed, dict, torch.device]:
    configure_torch(params.pretrain.threads)
    return load_processed(processed_dir), load_encoder(encoder_path), resolve_device(params.pretrain.device)


def _labelled(data: Processed, split: str, train: bool) -> Split:
    x, _, y = data.split(split, train)
    return x, y


def finetune_summary(result: FinetuneResult) -> dict:
    return {"top1_last": round(result.last_top1, 2), "top1_best": round(result.best_top1, 2),
            "best_epoch": result.best_epoch}


def _write_history(path: Path, runs: dict[str, FinetuneResult]) -> None:
    """Long TSV `epoch`, `series` (the run), `top1` (test top-1 after that epoch), runs in order.
    Long, not one column per run, so `dvc plots` (template `.dvc/plots/series.json`: one line per
    `series` value) draws every run whatever `evaluate.semi` fractions and repeats ask for."""
    lines = ["epoch\tseries\ttop1"]
    for name, result in runs.items():
        lines += [f"{e}\t{name}\t{top1:.4g}" for e, top1 in enumerate(result.top1, start=1)]
    with atomic_file(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def run_finetune(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path,
                 model_dir: Path | None = None) -> None:
    """Fine-tune and train from scratch; with `model_dir` (dvc.yaml: artifacts/finetune), the
    fine-tuned model (encoder + head) is saved there as `classifier.pt` for `skelssl predict` and
    `skelssl export` (format: skelssl.evaluation.model_file)."""
    claim_output_dir(out_dir, "finetune", (METRICS, HISTORY), inputs=(processed_dir, encoder_path))
    if model_dir is not None:
        claim_output_dir(model_dir, "finetune", (CLASSIFIER,), inputs=(processed_dir, encoder_path))
    data, checkpoint, device = _setup(params, processed_dir, encoder_path)
    split, cfg, seed = params.base.split, params.evaluate.finetune, params.base.seed
    spec = checkpoint["backbone"]
    encoders = {"finetune": (backbone_from_checkpoint(checkpoint), cfg),
                "scratch": (random_backbone(spec, derive_seed(seed, "random_init")),
                            cfg.model_copy(update={"layer_decay": 1.0}))}
    runs = {run: finetune(encoder, spec["config"]["name"], _labelled(data, split, True),
                          _labelled(data, split, False), data.num_classes, run_cfg, cfg.epochs,
                          torch_generator(seed, run), device, run,
                          keep_model=model_dir is not None and run == "finetune")
            for run, (encoder, run_cfg) in encoders.items()}
    metrics = {run: finetune_summary(result) for run, result in runs.items()}
    write_json(out_dir / METRICS, metrics)
    _write_history(out_dir / HISTORY, runs)
    if model_dir is not None:
        model = runs["finetune"].model
        assert model is not None
        save_stage_classifier(model_dir / CLASSIFIER, model, "finetune", spec["config"]["name"], checkpoint,
                              data.index, data.x.shape[1], read_meta(processed_dir),
                              {"method": checkpoint.get("meta", {}).get("method"), "seed": seed,
                               "split": split, "metrics": metrics["finetune"]})
    log.info("finetune: %s", metrics)


def fraction_key(fraction: float) -> str:
    """0.01 → "1%", 0.1 → "10%", 0.005 → "0.5%"."""
    return f"{round(fraction * 100, 6):g}%"


def run_semi(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    claim_output_dir(out_dir, "semi", (METRICS, HISTORY), inputs=(processed_dir, encoder_path))
    data, checkpoint, device = _setup(params, processed_dir, encoder_path)
    (x, y), test = _labelled(data, params.base.split, True), _labelled(data, params.base.split, False)
    spec = checkpoint["backbone"]
    name, semi, cfg = spec["config"]["name"], params.evaluate.semi, params.evaluate.finetune
    encoders = {"semi": (backbone_from_checkpoint(checkpoint), cfg, "finetune"),
                "semi_scratch": (random_backbone(spec, derive_seed(params.base.seed, "random_init")),
                                 cfg.model_copy(update={"layer_decay": 1.0}), "scratch")}
    metrics: dict[str, dict[str, dict]] = {run: {} for run in encoders}
    runs: dict[str, dict[str, FinetuneResult]] = {run: {} for run in encoders}
    for fraction in semi.fractions:
        key = fraction_key(fraction)
        results: dict[str, list[FinetuneResult]] = {run: [] for run in encoders}
        for r in range(semi.repeats):
            seed = derive_seed(params.base.seed, f"semi/{fraction}/{r}")
            idx = label_subset(y, fraction, semi.balanced, seed)  # one subset for both encoders
            for run, (encoder, run_cfg, generator_key) in encoders.items():
                label = f"{run.replace('_', ' ')} {key} #{r}"
                results[run].append(finetune(encoder, name, (x[idx], y[idx]), test, data.num_classes,
                                             run_cfg, semi.epochs, torch_generator(seed, generator_key),
                                             device, label))
                runs[run][label] = results[run][-1]
        for run in encoders:
            metrics[run][key] = _semi_summary(results[run])
    write_json(out_dir / METRICS, metrics)
    _write_history(out_dir / HISTORY, runs["semi"] | runs["semi_scratch"])
    log.info("semi: %s", metrics)


def _semi_summary(results: list[FinetuneResult]) -> dict:
    last = [r.last_top1 for r in results]
    return {"top1_mean": round(statistics.mean(last), 2),
            "top1_std": round(statistics.stdev(last), 2) if len(last) > 1 else 0.0,
            "runs": [round(v, 2) for v in last],
            "top1_best_mean": round(statistics.mean(r.best_top1 for r in results), 2)}
