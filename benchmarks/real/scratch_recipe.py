"""Which end-to-end recipe trains a backbone from scratch on small real data? (issue 13, item 3)

The real-data benchmark's fine-tune and scratch columns for the graph backbones (ST-GCN of pstl,
GIN + STRL of skeletonmae_graph) sit at 18-35% on MSR Action3D / UTD-MHAD, below linear probes on
their own random features. This script trains the random-init backbone of a method end to end with
`skelssl.evaluation.finetune.finetune` (the code the `finetune` stage runs) under several recipes,
on the validation split of `tune.py` (fit = training side minus the held-out subjects; val = those
subjects; the test split is never read), or with `--pretrained` the method's encoder after its
committed pretraining on the fit part (as tune.py), and prints one TSV line per recipe: dataset, method,
recipe, seed, seconds, final training loss, val top-1 last / best (epoch). A recipe is
`evaluate.finetune.<the method's backbone>` with the listed changes; "default" is that recipe as
committed. In the rows of scratch_runs.tsv written before per-backbone recipes (the first 19),
"default" is the one recipe then shared by every backbone, today's `evaluate.finetune.transformer`.

Usage:
  python benchmarks/real/scratch_recipe.py --dataset msr --method pstl --epochs 15 \
      --recipe default --recipe optimizer=adam,lr=5e-3,weight_decay=0,layer_decay=1.0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import DATASETS, committed_params, fit_val_split, parse_probe, pretrain_on_fit, record  # noqa: E402

from skelssl.backbones import backbone_spec, random_backbone  # noqa: E402
from skelssl.evaluation.finetune import finetune  # noqa: E402
from skelssl.repro import configure_torch, derive_seed, torch_generator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, choices=list(DATASETS))
    ap.add_argument("--method", required=True)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipe", action="append", default=[])
    ap.add_argument("--set", action="append", default=[], help="params override, e.g. methods.pstl.backbone.dropout=0")
    ap.add_argument("--pretrained", action="store_true",
                    help="pretrain the method first (its committed block, on the fit part) and train that encoder")
    a = ap.parse_args()
    params = committed_params(a.dataset, [f"method={a.method}", *a.set], a.seed)
    configure_torch(2)
    device = torch.device("cpu")
    data, fit, val, labels = fit_val_split(params, a.dataset)
    spec = backbone_spec(params.method_params.backbone, data.layout, data.x.shape[2])
    pretrained = pretrain_on_fit(params, data, fit)[0] if a.pretrained else None
    for text in a.recipe or ["default"]:
        cfg = parse_probe(text, params.evaluate.finetune.recipe(spec["config"]["name"]))
        encoder = random_backbone(spec, derive_seed(a.seed, "random_init")) if pretrained is None else pretrained
        t0 = time.time()
        result = finetune(encoder, spec["config"]["name"], (data.x[fit], labels[fit]), (data.x[val], labels[val]),
                          data.num_classes, cfg, a.epochs, torch_generator(a.seed, "scratch"), device, "scratch")
        setting = ";".join([f"{'pretrained' if a.pretrained else 'scratch'}:{text}", *a.set])
        line = [a.dataset, a.method, setting, str(a.seed), f"{time.time() - t0:.0f}", f"{result.losses[-1]:.3f}",
                f"{result.last_top1:.1f}", f"{result.best_top1:.1f}@{result.best_epoch}",
                f"epochs={a.epochs},fit={len(fit)},val={len(val)}"]
        record(line, "scratch_runs.tsv")


if __name__ == "__main__":
    main()
