"""benchmarks/real/probe_solver.py (its figures are in docs/real-data-tuning.md): the logistic
regression probe chooses its regularisation on the fit clips alone and finds class information that
lies along a low-variance direction beside a dominant common one (the shape of PSTL's features)."""

from __future__ import annotations

import torch

from helpers import load_real_benchmark


def _features(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes told apart only by a direction with 1% of the variance of a shared one."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    common = 10.0 * torch.randn(n, 1, generator=g)
    x = common * torch.ones(1, 16) + 0.05 * torch.randn(n, 16, generator=g)
    x[:, 0] += 1.0 * y  # the class lies along one small direction
    return x, y


def test_finds_a_small_direction_and_chooses_c_on_the_fit_clips_only():
    ps = load_real_benchmark("probe_solver")
    (xt, yt), (xv, yv) = _features(60, 0), _features(30, 1)
    top1, c, _ = ps.logreg_scores((xt, xv), yt, yv, 0)
    assert top1 == 100.0  # (scikit-learn's default C = 1 scores less here: 66.7)
    assert c in ps.C_GRID
    wrong = (yv + 1) % 3  # the validation labels cannot change what is chosen, only the score
    top1_wrong, c_wrong, _ = ps.logreg_scores((xt, xv), yt, wrong, 0)
    assert c_wrong == c and top1_wrong == 0.0
