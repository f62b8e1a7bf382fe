"""Does the committed linear probe's optimiser decide the gap? (issue 13, item 4)

The committed probe (`evaluate.linear`: a BatchNorm + Linear head, SGD lr 0.1 momentum 0.9, no
weight decay, 200 epochs of batch 16) is one way to fit a linear classifier on frozen features.
With 173–939 fit clips and 128–256 feature dimensions the fit clips are close to linearly
separable, so what the probe scores on new clips depends on *which* separating classifier the
optimiser ends at (without weight decay, SGD drifts towards the max-margin one) and on how well it
converges along low-variance directions: the eighteenth session found PSTL's pretrained features
nearly one-dimensional after standardising (PC1 86–90% of the variance), which slows plain SGD
along every other direction.

This script asks whether a different, well-conditioned linear classifier on the same features
changes the pretrained − random-init gap. It pretrains the committed block on the validation
protocol's fit clips (as `tune.py`), extracts the pretrained encoder's and the random twin's
features (the same features the probe reads), and fits on the fit clips:

- `committed`: the committed probe and kNN (`tune.probe_scores`);
- `logreg_cv`: multinomial logistic regression (scikit-learn, L-BFGS, converged) on the fit
  clips' features standardised with the fit clips' mean and std, its L2 strength C chosen by
  5-fold stratified cross-validation *on the fit clips only* from 13 values 1e-4 … 1e2;
- `logreg_c1`: the same at scikit-learn's default C = 1 (no choice at all).

All three are scored on the validation clips, which nothing was fitted or chosen on; the test
split is never read. One line per run in `benchmarks/real/probe_runs.tsv`: dataset, method,
seed, pretrain seconds, then for the pretrained encoder and the twin: committed linear, logreg_cv
(and its C), logreg_c1; the three gaps; fit/val clip counts.

Cost: the cross-validated grid refits 130 logistic regressions per run; on MSR Action3D and
UTD-MHAD a run takes 1–4 min in all (pretraining included), on Penn Action's 939 fit clips the
grid alone ran past 10 minutes for one encoder (skeleton2vec, seed 0) and was stopped, so Penn
Action has no rows.

Usage:
  python benchmarks/real/probe_solver.py --dataset msr --method pstl [--seed 0]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import fit_val_features, pretrain_on_fit, probe_scores, random_twin, record, study_setup  # noqa: E402

C_GRID = np.logspace(-4, 2, 13)


def logistic(c: float) -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=10_000, tol=1e-6))


def logreg_scores(features: tuple[torch.Tensor, torch.Tensor], y: torch.Tensor, vy: torch.Tensor,
                  seed: int) -> tuple[float, float, float]:
    """(validation top-1 with C chosen by CV on the fit clips, that C, validation top-1 at C = 1)."""
    ft, fv = (f.double().numpy() for f in features)
    yt, yv = y.numpy(), vy.numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer clips than folds
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(logistic(1.0), {"logisticregression__C": C_GRID}, cv=folds).fit(ft, yt)
        c1 = logistic(1.0).fit(ft, yt)
    best_c = float(search.best_params_["logisticregression__C"])
    return 100.0 * float((search.predict(fv) == yv).mean()), best_c, 100.0 * float((c1.predict(fv) == yv).mean())


def main() -> None:
    a, params, data, fit, val, labels = study_setup(__doc__.splitlines()[0])
    y, vy = labels[fit], labels[val]
    t0 = time.time()
    encoder, _ = pretrain_on_fit(params, data, fit)
    secs = time.time() - t0
    twin = random_twin(params, data)
    rows = {}
    for name, model in (("pretrained", encoder), ("twin", twin)):
        features = fit_val_features(model, data, fit, val, params.evaluate.batch_size)
        committed, _ = probe_scores(features, y, vy, data.num_classes, params)
        rows[name] = (committed, *logreg_scores(features, y, vy, a.seed))
    (p_lin, p_cv, p_c, p_c1), (t_lin, t_cv, t_c, t_c1) = rows["pretrained"], rows["twin"]
    record([a.dataset, a.method, str(a.seed), f"{secs:.0f}",
            f"{p_lin:.1f}", f"{p_cv:.1f}", f"{p_c:g}", f"{p_c1:.1f}",
            f"{t_lin:.1f}", f"{t_cv:.1f}", f"{t_c:g}", f"{t_c1:.1f}",
            f"{p_lin - t_lin:+.1f}", f"{p_cv - t_cv:+.1f}", f"{p_c1 - t_c1:+.1f}",
            f"fit={len(fit)},val={len(val)}"], "probe_runs.tsv")


if __name__ == "__main__":
    main()
