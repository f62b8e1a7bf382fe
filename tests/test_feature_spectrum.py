"""The statistics of benchmarks/real/feature_spectrum.py (its figures are in
docs/real-data-tuning.md) on features whose answer is known."""

from __future__ import annotations

import math

import torch

from helpers import load_real_benchmark


def _clips(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, 2, 8, 5, 3, generator=generator)


def test_one_shared_direction_has_rank_one_and_follows_the_mean():
    fs = load_real_benchmark("feature_spectrum")
    g = torch.Generator().manual_seed(0)
    gain = torch.randn(200, 1, generator=g, dtype=torch.float64)
    weights = torch.rand(1, 16, generator=g, dtype=torch.float64) + 0.5
    features = torch.cat([gain * weights, torch.zeros(200, 3, dtype=torch.float64)], dim=1)  # 3 dead
    r = fs.spectrum(features.float(), _clips(200, g))
    assert r["dims"] == 19 and r["dead"] == 3
    assert abs(r["effective_rank"] - 1.0) < 1e-3 and r["pc1_share"] > 0.999
    assert r["pc1_vs_mean"] > 0.999


def test_independent_dimensions_use_them_all():
    fs = load_real_benchmark("feature_spectrum")
    g = torch.Generator().manual_seed(1)
    features = torch.randn(20000, 8, generator=g)
    r = fs.spectrum(features, _clips(20000, g))
    assert r["dead"] == 0
    assert 7.9 < r["effective_rank"] <= 8.0 and abs(r["pc1_share"] - 1 / 8) < 0.01


def test_pc1_following_the_clips_motion_is_found():
    fs = load_real_benchmark("feature_spectrum")
    g = torch.Generator().manual_seed(2)
    clips = _clips(300, g)
    motion = (clips[:, :, 1:] - clips[:, :, :-1]).norm(dim=-1).sum(dim=(1, 2, 3))
    features = torch.cat([motion[:, None] * torch.ones(1, 6), 0.01 * torch.randn(300, 6, generator=g)], dim=1)
    r = fs.spectrum(features, clips)
    assert r["pc1_vs_motion"] > 0.99
    assert not math.isnan(r["pc1_vs_spread"])
