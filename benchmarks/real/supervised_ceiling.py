"""How far can *any* training of a backbone lift its linear probe above its random twin here? (issue 13, item 4)

Issue 13 asks every method's pretrained linear probe to beat its random-init twin by 10 points on
the real datasets. This script measures a ceiling for that gap with the labels themselves as the
"pretext": it takes the method's random-init twin (exactly as `tune.py` and the evaluate stage
build it), trains it **with the labels** on the same fit clips, with a plain Linear on the very
pooled embedding the probe reads (`skelssl.evaluation.heads.PooledClassifier`, trained by
`skelssl.evaluation.finetune.finetune` under the backbone's committed end-to-end recipe,
`evaluate.finetune.<backbone>`, for `--epochs`), then freezes that encoder and probes it like any
pretrained encoder: the committed linear probe and kNN (`evaluate.linear`, `evaluate.knn`), fitted
on the fit clips' features and scored on the validation clips, against the twin's probe with the
same recipe and generator.

A self-supervised pretext on the same few hundred unlabelled clips is not expected to beat an
encoder trained for the probe's own features with the labels of those clips, so where this
supervised encoder's gap stays under 10 points the issue's bar is out of reach for that backbone
on that dataset (an argument, not a theorem: a better supervised recipe could raise the ceiling).

Validation split of `tune.py`; the test split is never read. One TSV line per run in
`benchmarks/real/ceiling_runs.tsv`: dataset, method, backbone, seed, epochs, seconds, final
training loss, the trained classifier's own validation top-1, linear top-1 of the supervised
encoder and of the twin, their difference, kNN top-1 of both, fit/val clip counts.

Usage:
  python benchmarks/real/supervised_ceiling.py --dataset msr --method mamp --epochs 15 [--seed 0]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import fit_val_features, probe_scores, record, study_setup  # noqa: E402

from skelssl.backbones import backbone_spec, random_backbone  # noqa: E402
from skelssl.evaluation.finetune import finetune  # noqa: E402
from skelssl.repro import derive_seed, torch_generator  # noqa: E402

# `finetune` picks the classifier by backbone name; "stgcn" is the plain Linear on the encoder's
# pooled embedding (PooledClassifier), which works for every backbone and trains exactly the
# features the probe reads. The optimiser recipe stays the backbone's own.
POOLED_HEAD = "stgcn"


def main() -> None:
    a, params, data, fit, val, labels = study_setup(
        __doc__.splitlines()[0], extra=lambda ap: ap.add_argument("--epochs", type=int, required=True))
    device = torch.device("cpu")
    spec = backbone_spec(params.method_params.backbone, data.layout, data.x.shape[2])
    backbone = spec["config"]["name"]
    twin = random_backbone(spec, derive_seed(a.seed, "random_init"))
    t0 = time.time()
    result = finetune(twin, POOLED_HEAD, (data.x[fit], labels[fit]), (data.x[val], labels[val]),
                      data.num_classes, params.evaluate.finetune.recipe(backbone), a.epochs,
                      torch_generator(a.seed, "scratch"), device, "supervised", keep_model=True)
    secs = time.time() - t0

    def scores(encoder: torch.nn.Module) -> tuple[float, float]:
        features = fit_val_features(encoder, data, fit, val, params.evaluate.batch_size)
        return probe_scores(features, labels[fit], labels[val], data.num_classes, params)

    (sup_lin, sup_knn), (twin_lin, twin_knn) = scores(result.model.encoder), scores(twin)
    record([a.dataset, a.method, backbone, str(a.seed), str(a.epochs), f"{secs:.0f}", f"{result.losses[-1]:.3f}",
            f"{result.last_top1:.1f}", f"{sup_lin:.1f}", f"{twin_lin:.1f}", f"{sup_lin - twin_lin:+.1f}",
            f"{sup_knn:.1f}", f"{twin_knn:.1f}", f"fit={len(fit)},val={len(val)}"], "ceiling_runs.tsv")


if __name__ == "__main__":
    main()
