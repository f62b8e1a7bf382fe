"""How many directions do a pretrained encoder's features use? (issue 13, item 4)

The linear probe (`evaluate` stage) sees each clip's pooled encoder features, and its BatchNorm head
standardises every feature dimension; what it cannot undo is features that rise and fall together.
This script pretrains a method on the fit part of `tune.py`'s validation split, extracts the pooled
features of the fit clips from the pretrained encoder and from its random-init twin, standardises
every dimension that varies (std > 1e-6) and reports the spectrum of that standardised matrix:

- `effective rank`: exp of the entropy of its normalised eigenvalues (Roy & Vetterli 2007): 1 when
  one direction holds all the variance, the number of dimensions when all hold the same;
- `PC1 share`: the fraction of the standardised variance along the first principal direction;
- `dead`: dimensions that are constant over the fit clips (a ReLU channel never active);
- what PC1 follows: |correlation| of the clips' PC1 score with the mean of their standardised
  features (all channels rising and falling together), with the clip's motion energy (sum of
  frame-to-frame joint displacements) and with its coordinate spread (mean joint distance from the
  origin, after the committed centring and scaling).

The test split is never read. One TSV line per encoder in `benchmarks/real/spectrum_runs.tsv`:
dataset, method, seed, encoder, dims, dead, effective rank, PC1 share, the three correlations.

Usage:
  python benchmarks/real/feature_spectrum.py --dataset msr --method pstl [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import pretrain_on_fit, record, study_setup  # noqa: E402

from skelssl.backbones import backbone_spec, random_backbone  # noqa: E402
from skelssl.evaluation.features import extract_features  # noqa: E402
from skelssl.repro import derive_seed  # noqa: E402


def standardised(features: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(N, D) → (the varying dimensions, centred and scaled to unit std; how many were constant)."""
    std = features.std(0)
    keep = std > 1e-6
    return (features[:, keep] - features[:, keep].mean(0)) / std[keep], int((~keep).sum())


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return abs(float(torch.corrcoef(torch.stack([a.double(), b.double()]))[0, 1]))


def spectrum(features: torch.Tensor, clips: torch.Tensor) -> dict[str, float]:
    """The statistics of the module docstring for (N, D) `features` of `clips` (N, M, T, V, C)."""
    z, dead = standardised(features)
    u, s, _ = torch.linalg.svd(z.double(), full_matrices=False)
    share = s**2 / (s**2).sum()
    effective_rank = float(torch.exp(-(share * torch.log(share.clamp(min=1e-300))).sum()))
    pc1 = u[:, 0] * s[0]
    motion = (clips[:, :, 1:] - clips[:, :, :-1]).norm(dim=-1).sum(dim=(1, 2, 3))
    spread = clips.norm(dim=-1).mean(dim=(1, 2, 3))
    return {"dims": features.shape[1], "dead": dead, "effective_rank": effective_rank,
            "pc1_share": float(share[0]), "pc1_vs_mean": correlation(pc1, z.mean(1)),
            "pc1_vs_motion": correlation(pc1, motion), "pc1_vs_spread": correlation(pc1, spread)}


def main() -> None:
    a, params, data, fit, _, _ = study_setup(__doc__.split("\n")[0])
    x = data.x[fit]
    spec = backbone_spec(params.method_params.backbone, data.layout, data.x.shape[2])
    encoders = {"pretrained": pretrain_on_fit(params, data, fit)[0],
                "random_init": random_backbone(spec, derive_seed(a.seed, "random_init"))}
    for name, encoder in encoders.items():
        r = spectrum(extract_features(encoder, x, params.evaluate.batch_size, torch.device("cpu")), x)
        record([a.dataset, a.method, str(a.seed), name, str(r["dims"]), str(r["dead"]),
                f"{r['effective_rank']:.1f}", f"{r['pc1_share']:.2f}", f"{r['pc1_vs_mean']:.2f}",
                f"{r['pc1_vs_motion']:.2f}", f"{r['pc1_vs_spread']:.2f}", f"fit={len(fit)}"], "spectrum_runs.tsv")


if __name__ == "__main__":
    main()
