"""Linear probe on a frozen encoder; the recipe is `evaluate.linear` (LinearParams):

- MAE/MAMP probe (methods.md §1.5; [MAMP-code] main_linprobe.py): head "bn_linear" =
  BatchNorm1d without affine (eps 1e-6) + Linear (trunc-normal std 0.01, bias 0), optimizer "sgd"
  (momentum 0.9, no weight decay), schedule "cosine" (half-cosine to 0, updated every step);
- PSTL/AimCLR probe (methods.md §5.5; [PSTL-code] procedure.py RecognitionProcessor, model.py
  Linear, config.py): head "linear" = a plain Linear (xavier-normal weight, bias 0), optimizer
  "adam" (lr 0.01, torch's default betas, no weight decay), schedule "cosine_epoch"
  (CosineAnnealingLR over the epochs, stepped once per epoch, to 0), 150 epochs, batch 128.

The encoder is frozen. `augment.kind` "none" (PSTL's protocol, the CPU default): features are
extracted once and the probe trains on them. "crop_rotate" (MAMP's `main_linprobe.py` with its
train feeder's p_interval [0.5, 1] + random_rot; Skeleton2vec's dev `linear_probe.yaml`:
UniformSampleDecode 90 + RandomRot 0.3): the caller passes `features` as a function of the epoch
that extracts the training features from freshly augmented clips through the frozen encoder (in
eval mode, as MAMP's `model.eval()`), so every epoch sees new crops and rotations (slow on CPU).
Test clips are never augmented. The headline is the last epoch's accuracy; the best test accuracy
over the epochs (what MAMP's script prints as "Max accuracy") and its epoch (1-based) are reported
beside it as `best_top1` / `best_epoch`, labelled as such.
Batches are the shuffled training set cut in order, the last one possibly smaller, for every
recipe; with the BatchNorm head a last batch of one clip is skipped. PSTL's probe loader and the
Skeleton2vec dev code's (`dist_train.py`, a DistributedSampler without `drop_last`) keep that last
batch too; MAMP's `main_linprobe.py` drops it (`drop_last=True` on the train loader): a documented
deviation for the MAMP probe (and the SkeletonMAE-ST preset, which uses MAMP's recipe), at most
one extra, smaller step per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from skelssl.config import LinearParams
from skelssl.console import track
from skelssl.evaluation.features import topk_accuracy


@dataclass(frozen=True)
class ProbeResult:
    top1: float
    top5: float
    predictions: torch.Tensor  # (N_test,) predicted class indices
    logits: torch.Tensor  # (N_test, classes) the head's outputs (score ensembles)
    best_top1: float = 0.0  # best test top-1 over the epochs (MAMP's "Max accuracy")
    best_epoch: int = 0  # its epoch, 1-based (the first one on ties)
    head: nn.Module | None = field(default=None, compare=False, repr=False)  # the trained head (eval mode)


def linear_head(dim: int, classes: int, generator: torch.Generator, kind: str = "bn_linear"
                ) -> nn.Sequential:
    """The probe head: "bn_linear" (MAMP) or "linear" (PSTL), initialised from `generator`."""
    linear = nn.Linear(dim, classes)
    nn.init.zeros_(linear.bias)
    if kind == "bn_linear":
        nn.init.trunc_normal_(linear.weight, std=0.01, generator=generator)
        return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), linear)
    if kind == "linear":
        nn.init.xavier_normal_(linear.weight, generator=generator)
        return nn.Sequential(linear)
    raise ValueError(f"unknown probe head {kind!r} (known: bn_linear, linear)")


def _optimizer(head: nn.Module, cfg: LinearParams) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(head.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown probe optimizer {cfg.optimizer!r}")


def probe_lr(cfg: LinearParams, epoch: int, step: int, total_steps: int) -> float:
    """Half-cosine from cfg.lr to 0: "cosine" by the global step (of `total_steps`), "cosine_epoch"
    by the epoch (PSTL: CosineAnnealingLR(T_max = epochs), stepped after every epoch)."""
    if cfg.schedule == "cosine_epoch":
        angle = math.pi * epoch / cfg.epochs
    elif cfg.schedule == "cosine":
        angle = math.pi * step / total_steps
    else:
        raise ValueError(f"unknown probe schedule {cfg.schedule!r}")
    return cfg.lr * 0.5 * (1.0 + math.cos(angle))


def train_linear_head(train_x: torch.Tensor | Callable[[int], torch.Tensor], train_y: torch.Tensor,
                      classes: int, cfg: LinearParams, generator: torch.Generator,
                      on_epoch: Callable[[int, nn.Module], None] | None = None) -> nn.Sequential:
    """Train the probe head; returned in eval mode. `train_x`: fixed features (N, D), or a function
    epoch → that epoch's features (augmented clips). `on_epoch(epoch, head)` runs after every epoch
    with the head in eval mode (test accuracy per epoch); it must not use `generator`. Progress over
    the epochs is reported by `skelssl.console.track` (a bar on a terminal, log lines otherwise)."""
    features = train_x if callable(train_x) else (lambda epoch: train_x)
    first = features(0)
    head = linear_head(first.shape[1], classes, generator, cfg.head)
    opt = _optimizer(head, cfg)
    min_batch = 2 if cfg.head == "bn_linear" else 1  # BatchNorm needs two samples
    n = len(first)
    batch = min(cfg.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    total = steps_per_epoch * cfg.epochs
    loss_fn = nn.CrossEntropyLoss()
    step = 0
    for epoch in track(range(cfg.epochs), "linear probe epochs"):
        epoch_x = first if epoch == 0 else features(epoch)
        head.train()
        order = torch.randperm(n, generator=generator)
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            if len(idx) < min_batch:
                continue
            lr = probe_lr(cfg, epoch, step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = loss_fn(head(epoch_x[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if on_epoch is not None:
            head.eval()
            with torch.no_grad():
                on_epoch(epoch, head)
    return head.eval()


def linear_probe(train_x: torch.Tensor | Callable[[int], torch.Tensor], train_y: torch.Tensor,
                 test_x: torch.Tensor, test_y: torch.Tensor, classes: int, cfg: LinearParams,
                 generator: torch.Generator) -> ProbeResult:
    """Train the probe (`train_x`: features, or epoch → features, see `train_linear_head`) and test
    it after every epoch: top1/top5 of the last epoch, best top-1 over the epochs and its epoch."""
    best = [-1.0, 0]

    def test(epoch: int, head: nn.Module) -> None:
        top1 = topk_accuracy(head(test_x), test_y, 1)
        if top1 > best[0]:
            best[:] = [top1, epoch + 1]

    head = train_linear_head(train_x, train_y, classes, cfg, generator, on_epoch=test)
    with torch.no_grad():
        logits = head(test_x)
    return ProbeResult(topk_accuracy(logits, test_y, 1), topk_accuracy(logits, test_y, 5),
                       logits.argmax(dim=1), logits, best_top1=best[0], best_epoch=int(best[1]), head=head)
