"""Stages `finetune` and `semi`: end-to-end training on the labelled training split, tested on the
test split (`skelssl.evaluation.finetune` trains). Both use the recipe of the encoder's backbone,
`evaluate.finetune.<transformer|stgcn|gin>` (the checkpoint names it); `run_finetune` trains for
`evaluate.finetune.epochs.<backbone>` epochs.

`run_finetune` writes `metrics.json` {"finetune": …, "scratch": …} (each: top1_last, the headline;
top1_best and best_epoch, the maximum over epochs that MAMP's script reports) atomically at the
end. The scratch baseline is the same recipe from the randomly initialised encoder that stage
`evaluate` also uses (seed key "random_init"), with layer_decay 1.0 (MAMP's scratch setting).

`run_semi` fine-tunes on `evaluate.semi.repeats` label subsets per fraction for
`evaluate.semi.epochs` epochs; repeat r of fraction f draws its subset and its training randomness
from the seed derive_seed(base.seed, f"semi/{f}/{r}"); metrics.json holds per fraction ("1%",
"10%") the last-epoch top-1 of each run, their mean and sample standard deviation (0 for one
run), and the mean of the per-run best top-1. Baseline: every subset is also fine-tuned from the
random-init encoder with the scratch recipe (layer_decay 1.0, same `evaluate.semi.epochs`,
generator key "scratch" of the run's seed), on exactly the same subset; metrics.json holds those
summaries under the top-level key "semi_scratch" (next to "semi"; "scratch" already names the
full-label baseline).

Both log live while they train (`skelssl.live`, folder `OUT_DIR/live/`): after every epoch of every
run, `plots/custom/top1.json` and `plots/custom/loss.json` (long: epoch, series = the run, top1 =
test top-1 % after that epoch / loss = its mean training loss; dvc.yaml draws one line per series
with the template `.dvc/plots/series.json`, whatever `evaluate.semi` fractions and repeats are),
`metrics.json` (each run's latest test top-1 under `<run>/top1`, semi's under
`<semi|semi_scratch>/<fraction>/#<repeat>/top1`, and `step`, the epochs done over all runs) and
`params.yaml` (recipe, seed, split, clip counts, semi's subset sizes: facts, not metrics). Series
names: "finetune", "scratch"; "semi 1% #0", "semi scratch 1% #0", …
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import torch

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import FinetuneParams, Params
from skelssl.console import log
from skelssl.evaluation.finetune import FinetuneResult, finetune
from skelssl.evaluation.subsets import label_subset
from skelssl.io import write_json
from skelssl.live import LiveLog, check_live_dir
from skelssl.evaluation.model_file import save_stage_classifier
from skelssl.pipeline.dataset import Processed, load_encoder_for, load_processed, read_meta
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator

METRICS = "metrics.json"
CLASSIFIER = "classifier.pt"  # the fine-tuned model, in the stage's model folder

Split = tuple[torch.Tensor, torch.Tensor]


def _setup(params: Params, processed_dir: Path, encoder_path: Path
           ) -> tuple[Processed, dict, torch.device]:
    configure_torch(params.pretrain.threads)
    data = load_processed(processed_dir)
    return data, load_encoder_for(encoder_path, data, str(processed_dir)), resolve_device(params.pretrain.device)


def _labelled(data: Processed, split: str, train: bool) -> Split:
    x, _, y = data.split(split, train)
    return x, y


def finetune_summary(result: FinetuneResult) -> dict:
    return {"top1_last": round(result.last_top1, 2), "top1_best": round(result.best_top1, 2),
            "best_epoch": result.best_epoch}


class RunCurves:
    """The live log of a stage's fine-tuning runs, which train one after the other: `on_epoch` of
    a run logs its test top-1 (metrics.json `<key>/top1`) and appends to the long tables
    top1.json and loss.json (epoch, series, value) that dvc.yaml draws, one line per series."""

    def __init__(self, live: LiveLog) -> None:
        self.live = live
        self.epochs = 0  # over all runs: the log's step
        self.tables: dict[str, list[dict]] = {"top1": [], "loss": []}

    def on_epoch(self, series: str, key: str) -> Callable[[int, float, float], None]:
        def log_epoch(epoch: int, loss: float, top1: float) -> None:
            self.epochs += 1
            self.tables["top1"].append({"epoch": epoch, "series": series, "top1": round(top1, 2)})
            self.tables["loss"].append({"epoch": epoch, "series": series, "loss": loss})
            self.live.log(self.epochs, {f"{key}/top1": round(top1, 2)}, plot=False)
            for name, rows in self.tables.items():
                self.live.log_table(name, rows)
            self.live.sync()

        return log_epoch


def _run_params(params: Params, data: Processed, backbone: str, n_train: int, n_test: int,
                epochs: int | None = None) -> dict:
    """What the live log's params.yaml holds: settings, the backbone's recipe (with `epochs` when the
    stage trains for the recipe's epochs) and the clip counts."""
    recipe = params.evaluate.finetune.recipe(backbone)
    return {"split": params.base.split, "seed": params.base.seed, "backbone": backbone,
            "classes": data.num_classes, "train_samples": n_train, "test_samples": n_test,
            "finetune": ({} if epochs is None else {"epochs": epochs})
            | {k: getattr(recipe, k) for k in FinetuneParams.model_fields},
            "scratch_layer_decay": 1.0}


def run_finetune(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path,
                 model_dir: Path | None = None) -> None:
    """Fine-tune and train from scratch; with `model_dir` (dvc.yaml: artifacts/finetune), the
    fine-tuned model (encoder + head) is saved there as `classifier.pt` for `skelssl predict` and
    `skelssl export` (format: skelssl.evaluation.model_file)."""
    check_live_dir(out_dir, "finetune")
    claim_output_dir(out_dir, "finetune", (METRICS,), inputs=(processed_dir, encoder_path))
    if model_dir is not None:
        claim_output_dir(model_dir, "finetune", (CLASSIFIER,), inputs=(processed_dir, encoder_path))
    data, checkpoint, device = _setup(params, processed_dir, encoder_path)
    split, seed, spec = params.base.split, params.base.seed, checkpoint["backbone"]
    name = spec["config"]["name"]
    cfg, epochs = params.evaluate.finetune.recipe(name), params.evaluate.finetune.epochs_for(name)
    encoders = {"finetune": (backbone_from_checkpoint(checkpoint), cfg),
                "scratch": (random_backbone(spec, derive_seed(seed, "random_init")),
                            cfg.model_copy(update={"layer_decay": 1.0}))}
    train, test = _labelled(data, split, True), _labelled(data, split, False)
    live = LiveLog(out_dir, "finetune", _run_params(params, data, name, len(train[0]), len(test[0]), epochs))
    curves = RunCurves(live)
    runs = {run: finetune(encoder, name, train, test, data.num_classes, run_cfg,
                          epochs, torch_generator(seed, run), device, run,
                          keep_model=model_dir is not None and run == "finetune",
                          on_epoch=curves.on_epoch(run, run))
            for run, (encoder, run_cfg) in encoders.items()}
    metrics = {run: finetune_summary(result) for run, result in runs.items()}
    write_json(out_dir / METRICS, metrics)
    if model_dir is not None:
        model = runs["finetune"].model
        assert model is not None
        save_stage_classifier(model_dir / CLASSIFIER, model, "finetune", spec["config"]["name"], checkpoint,
                              data.index, data.x.shape[1], read_meta(processed_dir),
                              {"method": checkpoint.get("meta", {}).get("method"), "seed": seed,
                               "split": split, "metrics": metrics["finetune"]})
    live.close()
    log.info("finetune: %s", metrics)


def fraction_key(fraction: float) -> str:
    """0.01 → "1%", 0.1 → "10%", 0.005 → "0.5%"."""
    return f"{round(fraction * 100, 6):g}%"


def run_semi(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    check_live_dir(out_dir, "semi")
    claim_output_dir(out_dir, "semi", (METRICS,), inputs=(processed_dir, encoder_path))
    data, checkpoint, device = _setup(params, processed_dir, encoder_path)
    (x, y), test = _labelled(data, params.base.split, True), _labelled(data, params.base.split, False)
    spec = checkpoint["backbone"]
    name, semi = spec["config"]["name"], params.evaluate.semi
    cfg = params.evaluate.finetune.recipe(name)
    encoders = {"semi": (backbone_from_checkpoint(checkpoint), cfg, "finetune"),
                "semi_scratch": (random_backbone(spec, derive_seed(params.base.seed, "random_init")),
                                 cfg.model_copy(update={"layer_decay": 1.0}), "scratch")}
    metrics: dict[str, dict[str, dict]] = {run: {} for run in encoders}
    live = LiveLog(out_dir, "semi", _run_params(params, data, name, len(x), len(test[0]))
                   | {"semi": semi.model_dump(mode="json")})
    curves = RunCurves(live)
    subset_samples: dict[str, list[int]] = {}
    for fraction in semi.fractions:
        key = fraction_key(fraction)
        results: dict[str, list[FinetuneResult]] = {run: [] for run in encoders}
        for r in range(semi.repeats):
            seed = derive_seed(params.base.seed, f"semi/{fraction}/{r}")
            idx = label_subset(y, fraction, semi.balanced, seed)  # one subset for both encoders
            subset_samples.setdefault(key, []).append(len(idx))
            live.log_params({"subset_samples": subset_samples})
            for run, (encoder, run_cfg, generator_key) in encoders.items():
                label = f"{run.replace('_', ' ')} {key} #{r}"
                results[run].append(finetune(encoder, name, (x[idx], y[idx]), test, data.num_classes,
                                             run_cfg, semi.epochs, torch_generator(seed, generator_key),
                                             device, label,
                                             on_epoch=curves.on_epoch(label, f"{run}/{key}/#{r}")))
        for run in encoders:
            metrics[run][key] = _semi_summary(results[run])
    write_json(out_dir / METRICS, metrics)
    live.close()
    log.info("semi: %s", metrics)


def _semi_summary(results: list[FinetuneResult]) -> dict:
    last = [r.last_top1 for r in results]
    return {"top1_mean": round(statistics.mean(last), 2),
            "top1_std": round(statistics.stdev(last), 2) if len(last) > 1 else 0.0,
            "runs": [round(v, 2) for v in last],
            "top1_best_mean": round(statistics.mean(r.best_top1 for r in results), 2)}
