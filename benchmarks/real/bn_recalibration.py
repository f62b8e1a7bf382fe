"""Are a pretrained encoder's BatchNorm running statistics what hurts its linear probe? (issue 13, item 4)

The graph methods pretrain on augmented, masked streams (PSTL: shear, rotation, dropped frames,
removed joints), and their BatchNorm layers keep running statistics of those streams; the probe
(`evaluate` stage, and PSTL's own linear evaluation alike) extracts features in eval mode, with
those statistics, from clean clips. This script pretrains a method on the fit part of `tune.py`'s
validation split, then probes four encoders with the committed `evaluate.linear` recipe and kNN:
pretrained and random-init twin, each as is and with its BatchNorm statistics re-estimated on the
clean fit clips (running averages reset, then one pass over the fit part with every other module in
eval mode, so dropout does not enter the statistics). The test split is never read. One TSV line per
encoder: dataset, method, seed, encoder, BN statistics, linear top-1, kNN top-1.

Usage:
  python benchmarks/real/bn_recalibration.py --dataset msr --method pstl [--seed 0]
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import fit_val_features, pretrain_on_fit, probe_scores, record, study_setup  # noqa: E402

from skelssl.backbones import backbone_spec, random_backbone  # noqa: E402
from skelssl.repro import derive_seed  # noqa: E402


@torch.no_grad()
def recalibrated(encoder: nn.Module, x: torch.Tensor, batch_size: int) -> nn.Module:
    """A copy of `encoder` whose BatchNorm running mean / variance are the cumulative averages over
    one pass of `x` (everything else in eval mode)."""
    enc = copy.deepcopy(encoder).eval()
    norms = [m for m in enc.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    for i in range(0, len(x), batch_size):
        enc(x[i:i + batch_size])
    return enc.eval()


def main() -> None:
    a, params, data, fit, val, labels = study_setup(__doc__.split("\n")[0])
    x, y, vy = data.x[fit], labels[fit], labels[val]
    spec = backbone_spec(params.method_params.backbone, data.layout, data.x.shape[2])
    ev = params.evaluate
    encoders = {"pretrained": pretrain_on_fit(params, data, fit)[0],
                "random_init": random_backbone(spec, derive_seed(a.seed, "random_init"))}
    for name, encoder in encoders.items():
        for stats, enc in (("as trained", encoder), ("re-estimated on clean fit clips",
                                                     recalibrated(encoder, x, ev.batch_size))):
            lin, knn = probe_scores(fit_val_features(enc, data, fit, val, ev.batch_size), y, vy, data.num_classes, params)
            line = [a.dataset, a.method, str(a.seed), name, stats, f"{lin:.1f}", f"{knn:.1f}",
                    f"fit={len(fit)},val={len(val)}"]
            record(line, "bn_runs.tsv")


if __name__ == "__main__":
    main()
