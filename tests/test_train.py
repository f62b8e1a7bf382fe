import math

import pytest
import torch

from helpers import LAYOUT, default_params, tiny_method_params, tiny_skeleton2vec
from skelssl.augment import random_rotation
from skelssl.methods import build_method
from skelssl.train import lr_at, param_groups, pretrain


def test_lr_warmup_then_cosine_to_min():
    assert lr_at(0, 100, 10, 1.0, 0.1) == 0.0
    assert lr_at(5, 100, 10, 1.0, 0.1) == 0.5
    assert lr_at(10, 100, 10, 1.0, 0.1) == 1.0
    assert lr_at(55, 100, 10, 1.0, 0.1) == pytest.approx(0.55)
    assert lr_at(100, 100, 10, 1.0, 0.1) == pytest.approx(0.1)


def _grouped_names(name):
    torch.manual_seed(0)
    method = build_method(name, tiny_method_params(name), LAYOUT, 8)
    decay, no_decay = param_groups(method, 0.05)
    names = {id(p): n for n, p in method.named_parameters()}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    trainable = {n for n, p in method.named_parameters() if p.requires_grad}
    got_decay = {names[id(p)] for p in decay["params"]}
    got_no_decay = {names[id(p)] for p in no_decay["params"]}
    assert got_decay | got_no_decay == trainable and not got_decay & got_no_decay
    one_d_or_bias = {n for n, p in method.named_parameters()
                     if p.requires_grad and (p.ndim <= 1 or n.endswith(".bias"))}
    return got_decay, got_no_decay, one_d_or_bias


@pytest.mark.parametrize("name", ["mamp", "skeletonmae_st"])
def test_mae_style_weight_decay_is_timms_rule(name):
    """MAMP main_pretrain.py: optim_factory.add_weight_decay(model, wd) with no skip list: only 1-D
    parameters and biases are exempt; positional embeddings and the mask token decay."""
    decay, no_decay, one_d_or_bias = _grouped_names(name)
    assert no_decay == one_d_or_bias
    assert {"encoder.pos_spatial", "encoder.pos_temporal", "decoder.pos_spatial", "decoder.pos_temporal",
            "decoder.mask_token", "encoder.patch_embed.weight"} <= decay


def test_pstl_decays_every_parameter():
    """PSTL procedure.py BTProcessor.load_optim: Adam(encoder + head params, weight_decay=...)."""
    decay, no_decay, one_d_or_bias = _grouped_names("pstl")
    assert no_decay == set() and one_d_or_bias <= decay
    assert any("edge_importance" in n for n in decay) and any(n.endswith(".bias") for n in decay)


def test_skeleton2vec_weight_decay_is_timms_rule_plus_its_positional_embeddings():
    """Dev code @14935c1 (dist_pretrain2.py with `weight_decay_groups: true`, as the ntu60_xsub
    pretrain config sets): timm param_groups_weight_decay(model, wd, model.no_weight_decay()), the
    list (Skeleton2Vec2.no_weight_decay) holding the encoder's and decoder's spatial/temporal
    positional embeddings; the mask token decays."""
    decay, no_decay, one_d_or_bias = _grouped_names("skeleton2vec")
    pos = {"encoder.pos_spatial", "encoder.pos_temporal", "decoder.pos_spatial", "decoder.pos_temporal"}
    assert no_decay == one_d_or_bias | pos
    assert any(n.endswith("gamma1") for n in no_decay)  # LayerScale is 1-D
    assert "decoder.mask_token" in decay
    assert not any(n.startswith("teacher.") for n in decay | no_decay)


def test_skeletonmae_graph_keeps_the_default_exemptions():
    """No code exists; skelssl's default: 1-D, biases, positional embeddings and tokens exempt."""
    decay, no_decay, one_d_or_bias = _grouped_names("skeletonmae_graph")
    assert "mask_token" in no_decay and no_decay == one_d_or_bias
    assert all(n.endswith("weight") for n in decay)


def test_plain_modules_use_skips_weight_decay():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    decay, no_decay = param_groups(model, 0.1)
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 3])]
    assert len(no_decay["params"]) == 3


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
