"""End-to-end training of encoder + head: full fine-tuning, the semi-supervised protocol (on a label
subset) and the supervised-from-scratch baseline (a random encoder, layer_decay 1.0).

Recipe (`FinetuneParams`, one per backbone in `evaluate.finetune`; the transformer default follows
MAMP `main_finetune.py`, methods.md §1.5, the ST-GCN default PSTL's recipe below): AdamW
(default betas), linear warmup from 0 then half-cosine to `min_lr`, updated every step
(`skelssl.train.lr_at`, schedule "cosine"); layer-wise lr decay, a
parameter of layer id i getting lr · layer_decay^(num_layers − i) (transformer: embeddings 0,
blocks 1..depth, head depth + 1; other backbones: one layer, no decay); stochastic depth rising to
`drop_path` over the transformer's blocks; cross-entropy with label smoothing; no weight decay on
biases, norms and positional embeddings (`skelssl.train.skips_weight_decay`); the last incomplete
batch of an epoch is dropped (MAMP's loader drops it). Test top-1 is measured after every epoch:
`last_top1` is the headline; `best_top1` / `best_epoch` (the maximum over epochs, what MAMP's
script prints) is reported separately because it selects on the test set.

Other recipes (the stgcn default and the paper presets, docs/presets.md): `optimizer` "adam" (torch Adam,
default betas, weight decay as L2; PSTL: lr 5e-3, no decay) or "sgd" (`momentum`; STRL: 0.9);
`schedule` "cosine_epoch" (the warmup + cosine lr computed per epoch and held for the epoch, PSTL's
CosineAnnealingLR stepped once per epoch) or "step" (the linear per-step warmup, then lr ×
gamma^(number of `milestones` ≤ the epoch index), as MultiStepLR stepped per epoch; STRL: 0.1 at
epochs 90 and 100). The weight-decay exemptions above apply to every optimizer.

Weight-decay exemptions (documented deviation for MAMP): `skips_weight_decay` exempts 1-D
parameters, biases, positional embeddings (`pos_*`) and tokens (`*token*`) for every recipe.
MAMP's fine-tuning (`util/lr_decay.py` `param_groups_lrd`, called without a skip list) exempts
only 1-D parameters, so its positional embeddings (`pos_embed`, `temp_embed`) are decayed there
and not here. The Skeleton2vec dev code's fine-tuning (`dist_train.py`@14935c1) passes its
classifier's `no_weight_decay()` (the encoder's two positional embeddings) to the same function,
which is the rule used here; PSTL's recipe has no weight decay, so the rule does not matter there.

*Unverified* / ours: no augmentation (MAMP crops and rotates on the fly; our clips are already
cropped to T); no gradient clipping, no mixup (as MAMP); the last incomplete batch is dropped for
every recipe (PSTL's loader keeps it).

Randomness: the epoch order is drawn from `generator`; head initialisation, dropout and drop-path use
torch's global RNG, which is seeded from `generator` inside `torch.random.fork_rng`, so a call is a
pure function of its inputs and the generator's state and leaves the caller's global RNG untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from skelssl.config import FinetuneParams
from skelssl.console import log, track
from skelssl.errors import SkelsslError
from skelssl.evaluation.features import topk_accuracy
from skelssl.evaluation.heads import Classifier, build_classifier
from skelssl.train import fused_supported, lr_at, skips_weight_decay


@dataclass(frozen=True)
class FinetuneResult:
    top1: list[float]  # test top-1 (%) after each epoch
    losses: list[float]  # mean training loss of each epoch
    model: nn.Module | None = field(default=None, compare=False, repr=False)  # with keep_model: the trained model

    @property
    def last_top1(self) -> float:
        return self.top1[-1]

    @property
    def best_top1(self) -> float:
        return max(self.top1)

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best test top-1 (the first one on ties)."""
        return self.top1.index(self.best_top1) + 1


def lr_param_groups(model: Classifier, weight_decay: float, layer_decay: float) -> list[dict]:
    """One optimiser group per (layer id, decayed or not), each with its `lr_scale`. Decay exemptions:
    `skips_weight_decay` (1-D, biases, `pos_*`, `*token*`) for every recipe; MAMP exempts only
    1-D parameters, so its positional embeddings decay (documented deviation, module docstring)."""
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        layer, no_decay = model.layer_id(name), skips_weight_decay(name, p)
        group = groups.setdefault((layer, no_decay), {
            "params": [], "names": [], "weight_decay": 0.0 if no_decay else weight_decay,
            "lr_scale": layer_decay ** (model.num_layers - layer)})
        group["params"].append(p)
        group["names"].append(name)
    return [groups[key] for key in sorted(groups)]


@torch.no_grad()
def _test_top1(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
               device: torch.device) -> float:
    model.eval()
    logits = torch.cat([model(x[i:i + batch_size].to(device)).float().cpu()
                        for i in range(0, len(x), batch_size)])
    return topk_accuracy(logits, y, 1)


def lr_for(cfg: FinetuneParams, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The lr of global step `step` (in epoch `epoch`) of `epochs` under `cfg.schedule`."""
    warmup_steps = steps_per_epoch * cfg.warmup_epochs
    if cfg.schedule == "cosine":
        return lr_at(step, total_steps=steps_per_epoch * epochs, warmup_steps=warmup_steps,
                     lr=cfg.lr, min_lr=cfg.min_lr)
    if cfg.schedule == "cosine_epoch":
        return lr_at(epoch, total_steps=epochs, warmup_steps=cfg.warmup_epochs, lr=cfg.lr,
                     min_lr=cfg.min_lr)
    if cfg.schedule == "step":
        if step < warmup_steps:
            return cfg.lr * step / warmup_steps
        return cfg.lr * cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    raise ValueError(f"unknown fine-tuning schedule {cfg.schedule!r}")


def _optimizer(model: Classifier, cfg: FinetuneParams) -> torch.optim.Optimizer:
    groups = lr_param_groups(model, cfg.weight_decay, cfg.layer_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, fused=fused_supported(model))
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, fused=fused_supported(model))
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    raise ValueError(f"unknown fine-tuning optimizer {cfg.optimizer!r}")


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, x: torch.Tensor,
                 y: torch.Tensor, batch: int, epoch: int, schedule: dict, generator: torch.Generator,
                 device: torch.device) -> float:
    model.train()
    order = torch.randperm(len(x), generator=generator)
    losses = []
    steps = len(x) // batch
    for b in range(steps):
        lr = lr_for(epoch=epoch, step=epoch * steps + b, steps_per_epoch=steps, **schedule)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_scale"]
        idx = order[b * batch:(b + 1) * batch]
        loss = loss_fn(model(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def finetune(encoder: nn.Module, backbone: str, train: tuple[torch.Tensor, torch.Tensor],
             test: tuple[torch.Tensor, torch.Tensor], classes: int, cfg: FinetuneParams, epochs: int,
             generator: torch.Generator, device: torch.device, label: str = "finetune",
             keep_model: bool = False,
             on_epoch: Callable[[int, float, float], None] | None = None) -> FinetuneResult:
    """Train a copy of `encoder` with the backbone's head on train (x, y); test after every epoch.
    `keep_model`: the result holds the trained model (eval mode), e.g. to save it. `on_epoch(epoch,
    loss, top1)` is called after every epoch (1-based epoch, mean training loss, test top-1), e.g.
    to log it live (`skelssl.pipeline.finetune`); it does not touch the training's randomness."""
    x, y = train
    batch = min(cfg.batch_size, len(x))
    if batch < 2:
        raise SkelsslError(f"{label}: BatchNorm needs batches of at least 2 clips; got "
                           f"{len(x)} training clips and evaluate.finetune.{backbone}.batch_size {cfg.batch_size}")
    schedule = {"cfg": cfg, "epochs": epochs}
    devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        model = build_classifier(backbone, encoder, classes, cfg.drop_path, x.shape[1]).to(device)
        opt = _optimizer(model, cfg)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        top1, losses = [], []
        for epoch in track(range(epochs), f"{label} epochs"):
            losses.append(_train_epoch(model, opt, loss_fn, x, y, batch, epoch, schedule,
                                       generator, device))
            top1.append(_test_top1(model, *test, cfg.batch_size, device))
            log.info("%s epoch %d/%d loss %.4f top1 %.2f", label, epoch + 1, epochs, losses[-1], top1[-1])
            if on_epoch is not None:
                on_epoch(epoch + 1, losses[-1], top1[-1])
    return FinetuneResult(top1, losses, model.eval() if keep_model else None)
