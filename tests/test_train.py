import math

import pytest
import torch

from helpers import LAYOUT, default_params, tiny_skeleton2vec
from skelssl.augment import random_rotation
from skelssl.methods import build_method
from skelssl.train import lr_at, param_groups, pretrain


def test_lr_warmup_then_cosine_to_min():
    assert lr_at(0, 100, 10, 1.0, 0.1) == 0.0
    assert lr_at(5, 100, 10, 1.0, 0.1) == 0.5
    assert lr_at(10, 100, 10, 1.0, 0.1) == 1.0
    assert lr_at(55, 100, 10, 1.0, 0.1) == pytest.approx(0.55)
    assert lr_at(100, 100, 10, 1.0, 0.1) == pytest.approx(0.1)


def test_no_weight_decay_on_biases_norms_and_embeddings():
    method = build_method("skeleton2vec", tiny_skeleton2vec(), LAYOUT, 8)
    decay, no_decay = param_groups(method, 0.05)
    names = {id(p): n for n, p in method.named_parameters()}
    assert all(names[id(p)].endswith("weight") and p.ndim > 1 for p in decay["params"])
    assert any("pos_" in names[id(p)] for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0
    assert not any("teacher" in names[id(p)] for p in decay["params"] + no_decay["params"])


def test_rotation_preserves_lengths_and_zeros():
    x = torch.randn(4, 2, 5, 25, 3)
    x[:, 1] = 0
    y = random_rotation(x, 0.3, torch.Generator().manual_seed(0))
    assert torch.allclose(x.norm(dim=-1), y.norm(dim=-1), atol=1e-5)
    assert (y[:, 1] == 0).all()
    assert not torch.allclose(x, y)


def _run(seed):
    torch.manual_seed(0)
    method = build_method("skeleton2vec", tiny_skeleton2vec(), LAYOUT, 8)
    gen = torch.Generator().manual_seed(0)
    x, motion = torch.randn(12, 2, 8, 25, 3, generator=gen), torch.rand(12, 2, 8, 25, generator=gen)
    cfg = default_params().methods.skeleton2vec.optim.model_copy(update={"epochs": 2, "batch_size": 4, "warmup_epochs": 1})
    return pretrain(method, x, motion, cfg, seed, torch.device("cpu")), method


def test_pretrain_history_and_determinism():
    history, method = _run(seed=7)
    assert len(history.rows) == 6  # 2 epochs × (12 // 4) steps
    assert [r["step"] for r in history.rows] == list(range(6))
    assert all(math.isfinite(r["loss"]) for r in history.rows)
    assert history.rows[0]["lr"] == 0.0 and history.rows[3]["lr"] > 0
    header = history.to_tsv().splitlines()[0].split("\t")
    assert header[:5] == ["step", "epoch", "lr", "loss", "grad_norm"]
    assert {"pred_var", "target_var", "ema_decay"} <= set(header)
    again, _ = _run(seed=7)
    assert [r["loss"] for r in again.rows] == [r["loss"] for r in history.rows]
    other, _ = _run(seed=8)
    assert [r["loss"] for r in other.rows] != [r["loss"] for r in history.rows]


def test_bf16_autocast_step_is_finite():
    torch.manual_seed(0)
    method = build_method("skeleton2vec", tiny_skeleton2vec(), LAYOUT, 8)
    gen = torch.Generator().manual_seed(0)
    x, motion = torch.randn(8, 2, 8, 25, 3, generator=gen), torch.rand(8, 2, 8, 25, generator=gen)
    optim = default_params().methods.skeleton2vec.optim.model_copy(update={"epochs": 1, "batch_size": 4})
    run = default_params().pretrain.model_copy(update={"amp": True})
    history = pretrain(method, x, motion, optim, 0, torch.device("cpu"), run)
    assert len(history.rows) == 2 and all(math.isfinite(r["loss"]) for r in history.rows)
