"""Evaluation recipes as parameters: the linear-probe recipe (MAMP's BN + Linear with SGD, PSTL's
plain Linear with Adam and a per-epoch cosine) and the fine-tuning optimiser and lr schedules
(AdamW + per-step cosine, Adam + per-epoch cosine, SGD + multistep)."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from helpers import default_params
from skelssl.config import FinetuneParams, LinearParams
from skelssl.evaluation.finetune import _optimizer as finetune_optimizer
from skelssl.evaluation.finetune import finetune, lr_for
from skelssl.evaluation.heads import build_classifier
from skelssl.evaluation.linear import _optimizer as probe_optimizer
from skelssl.evaluation.linear import linear_head, linear_probe, probe_lr

CPU = torch.device("cpu")

PSTL_PROBE = {"head": "linear", "optimizer": "adam", "lr": 0.01, "weight_decay": 0.0,
              "schedule": "cosine_epoch", "epochs": 150, "batch_size": 128}
STRL = {"optimizer": "sgd", "momentum": 0.9, "lr": 0.1, "schedule": "step", "milestones": [90, 100],
        "gamma": 0.1, "warmup_epochs": 5, "batch_size": 128}  # 110 epochs
PSTL_FT = {"optimizer": "adam", "lr": 5e-3, "schedule": "cosine_epoch", "milestones": [],
           "warmup_epochs": 0, "min_lr": 0.0, "weight_decay": 0.0}  # 150 epochs


def _linear(**update) -> LinearParams:
    return LinearParams.model_validate(default_params().evaluate.linear.model_dump() | update)


def _finetune(**update) -> FinetuneParams:
    return FinetuneParams.model_validate(default_params().evaluate.finetune.transformer.model_dump() | update)


def _separable(seed: int, n_per_class: int = 30, classes: int = 4, dim: int = 8):
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99)) * 3
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[y] + 0.3 * torch.randn(len(y), dim, generator=torch.Generator().manual_seed(seed)), y


# ---------------------------------------------------------------------------- linear probe


def test_default_probe_is_mamps():
    cfg = default_params().evaluate.linear
    assert (cfg.head, cfg.optimizer, cfg.schedule, cfg.momentum, cfg.weight_decay) == (
        "bn_linear", "sgd", "cosine", 0.9, 0.0)
    head = linear_head(16, 5, torch.Generator().manual_seed(0), cfg.head)
    bn, fc = head
    assert isinstance(bn, torch.nn.BatchNorm1d) and not bn.affine and bn.eps == 1e-6
    assert fc.weight.std().item() < 0.02 and not fc.bias.any()
    opt = probe_optimizer(head, cfg)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9


def test_pstl_probe_is_a_plain_xavier_linear_trained_with_adam():
    cfg = _linear(**PSTL_PROBE)
    head = linear_head(256, 60, torch.Generator().manual_seed(0), cfg.head)
    assert len(head) == 1 and isinstance(head[0], torch.nn.Linear) and not head[0].bias.any()
    # xavier-normal: std = sqrt(2 / (fan_in + fan_out))
    assert abs(head[0].weight.std().item() - math.sqrt(2 / (256 + 60))) < 0.005
    opt = probe_optimizer(head, cfg)
    assert type(opt) is torch.optim.Adam
    assert opt.defaults["lr"] == 0.01 and opt.defaults["weight_decay"] == 0.0
    assert opt.defaults["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="probe head"):
        linear_head(4, 2, torch.Generator(), "mlp")


def test_probe_schedules_per_step_and_per_epoch():
    cfg = _linear(**PSTL_PROBE)
    # CosineAnnealingLR(T_max = 150), stepped once per epoch: the lr used during epoch e
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 150)
    for epoch in range(150):
        want = opt.param_groups[0]["lr"]
        for step in (epoch * 7, epoch * 7 + 6):  # constant within an epoch
            assert probe_lr(cfg, epoch, step, 150 * 7) == pytest.approx(want, rel=1e-9, abs=1e-12)
        opt.step()
        sched.step()
    per_step = _linear(schedule="cosine", lr=0.1, epochs=10)
    assert probe_lr(per_step, 0, 0, 100) == 0.1
    assert probe_lr(per_step, 0, 5, 100) < 0.1  # moves within the first epoch
    assert probe_lr(per_step, 5, 50, 100) == pytest.approx(0.05)


@pytest.mark.parametrize("recipe", [{}, PSTL_PROBE | {"epochs": 30, "batch_size": 16}],
                         ids=["mamp", "pstl"])
def test_both_probes_solve_separable_features(recipe):
    x, y = _separable(0)
    tx, ty = _separable(1)
    result = linear_probe(x, y, tx, ty, 4, _linear(**recipe), torch.Generator().manual_seed(0))
    assert result.top1 >= 95.0


def test_plain_linear_probe_trains_on_a_last_batch_of_one(monkeypatch):
    """Without BatchNorm nothing needs two clips: every clip is used (PSTL's loader keeps the last batch)."""
    import skelssl.evaluation.linear as lin

    x, y = _separable(0, n_per_class=1, classes=3)  # 3 clips, batch 2 → batches of 2 and 1
    cfg = _linear(**PSTL_PROBE | {"epochs": 1, "batch_size": 2})
    seen = []
    head = linear_head(8, 3, torch.Generator().manual_seed(0), "linear")
    head[0].register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
    monkeypatch.setattr(lin, "linear_head", lambda *a, **k: head)
    lin.train_linear_head(x, y, 3, cfg, torch.Generator().manual_seed(0))
    assert seen == [2, 1]


# ---------------------------------------------------------------------------- fine-tuning


def test_step_schedule_is_multistep_after_a_linear_warmup():
    cfg = _finetune(**STRL)
    steps = 4
    assert lr_for(cfg, 0, 0, steps, 110) == 0.0
    assert lr_for(cfg, 2, 2 * steps + 2, steps, 110) == pytest.approx(0.1 * 10 / 20)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[90, 100], gamma=0.1)
    for epoch in range(110):
        if epoch >= 5:
            for b in (0, steps - 1):
                assert lr_for(cfg, epoch, epoch * steps + b, steps, 110) == pytest.approx(
                    opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
    assert lr_for(cfg, 95, 95 * steps, steps, 110) == pytest.approx(0.01)
    assert lr_for(cfg, 109, 109 * steps, steps, 110) == pytest.approx(0.001)


def test_cosine_epoch_schedule_is_pstls_cosine_annealing():
    cfg = _finetune(**PSTL_FT)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=5e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 150)
    for epoch in range(150):
        for b in (0, 2):
            assert lr_for(cfg, epoch, epoch * 3 + b, 3, 150) == pytest.approx(
                opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()


def test_finetune_optimizers():
    from test_finetune import _encoder

    model = build_classifier("gin", _encoder("gin"), 3, 0.0, 2)
    sgd = finetune_optimizer(model, _finetune(**STRL, weight_decay=4e-4))
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.9
    assert {g["weight_decay"] for g in sgd.param_groups} == {0.0, 4e-4}  # norms and biases exempt
    adam = finetune_optimizer(model, _finetune(**PSTL_FT))
    assert type(adam) is torch.optim.Adam and adam.defaults["betas"] == (0.9, 0.999)
    assert type(finetune_optimizer(model, _finetune())) is torch.optim.AdamW


@pytest.mark.parametrize(("backbone", "recipe"), [("gin", STRL), ("stgcn", PSTL_FT)], ids=["strl", "pstl"])
def test_finetune_runs_with_each_papers_recipe(backbone, recipe):
    from test_finetune import _encoder, _task

    cfg = _finetune(**recipe | {"warmup_epochs": min(1, recipe["warmup_epochs"]),
                                "batch_size": 8, "milestones": [1, 2] if recipe["milestones"] else []})
    result = finetune(_encoder(backbone), backbone, _task(6, 3, 0), _task(2, 3, 1), 3, cfg, 3,
                      torch.Generator().manual_seed(0), CPU)
    assert len(result.top1) == 3 and all(math.isfinite(v) for v in result.losses)


def test_milestones_go_with_the_step_schedule():
    with pytest.raises(ValidationError, match="strictly increasing milestones"):
        _finetune(schedule="step", milestones=[])
    with pytest.raises(ValidationError, match="strictly increasing milestones"):
        _finetune(schedule="step", milestones=[100, 90])
    with pytest.raises(ValidationError, match="milestones are used only"):
        _finetune(schedule="cosine", milestones=[90])
    assert _finetune(**STRL).milestones == [90, 100]


# ---------------------------------------------------------------------------- one recipe per backbone


def test_every_backbone_has_a_finetune_recipe_and_epochs():
    from skelssl.backbones import BACKBONES
    from skelssl.config import FinetuneEpochs, FinetuneRecipes

    assert set(FinetuneEpochs.model_fields) == set(BACKBONES)
    assert set(FinetuneRecipes.model_fields) == set(BACKBONES) | {"epochs"}
    recipes = default_params().evaluate.finetune
    for name in BACKBONES:
        assert recipes.recipe(name) is getattr(recipes, name)
        assert recipes.epochs_for(name) == getattr(recipes.epochs, name)


def test_unknown_backbone_has_no_recipe():
    from skelssl.errors import ParamsError

    with pytest.raises(ParamsError, match="evaluate.finetune has no recipe for backbone 'ctrgcn'"):
        default_params().evaluate.finetune.recipe("ctrgcn")


def test_default_recipes_per_backbone():
    """The transformer recipe is MAMP's; ST-GCN's is PSTL's; GIN + STRL trains with AdamW (STRL's
    SGD 0.1 does not train it here: docs/real-data-tuning.md)."""
    recipes = default_params().evaluate.finetune
    assert recipes.transformer.optimizer == "adamw" and recipes.transformer.layer_decay < 1.0
    stgcn = recipes.stgcn.model_dump()
    assert {k: stgcn[k] for k in PSTL_FT} == PSTL_FT and stgcn["label_smoothing"] == 0.0
    assert recipes.gin.optimizer == "adamw" and recipes.gin.lr == 3e-3



@pytest.mark.parametrize("old", [{"lr": 1e-3}, {"epochs": 3}])
def test_a_flat_finetune_recipe_gets_one_line_saying_what_changed(old, tmp_path):
    from ruamel.yaml import YAML

    from skelssl.config import load_params
    from skelssl.errors import ParamsError

    data = default_params().model_dump(mode="json")
    data["evaluate"]["finetune"] |= old
    path = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(data, path)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    key = next(iter(old))
    assert "\n" not in str(err.value)
    assert "evaluate.finetune: one recipe per backbone now" in str(err.value)
    assert f"(got the flat key '{key}')" in str(err.value)
