"""Linear probe (MAE/MAMP protocol, methods.md §1.5): frozen encoder, BatchNorm1d without affine
(eps 1e-6) + Linear (trunc-normal std 0.01), SGD with momentum, cosine lr to 0, per-step.

The encoder is frozen and we train without augmentation (as PSTL's linear protocol does), so
features are extracted once and the probe trains on them; MAMP's probe also augments (crop +
rotation), which would need the encoder in the loop. We report the last epoch's accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from skelssl.config import LinearParams
from skelssl.evaluation.features import topk_accuracy


@dataclass(frozen=True)
class ProbeResult:
    top1: float
    top5: float
    predictions: torch.Tensor  # (N_test,) predicted class indices
    logits: torch.Tensor  # (N_test, classes) the head's outputs (score ensembles)


def linear_head(dim: int, classes: int, generator: torch.Generator) -> nn.Sequential:
    linear = nn.Linear(dim, classes)
    nn.init.trunc_normal_(linear.weight, std=0.01, generator=generator)
    nn.init.zeros_(linear.bias)
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), linear)


def train_linear_head(train_x: torch.Tensor, train_y: torch.Tensor, classes: int, cfg: LinearParams,
                      generator: torch.Generator) -> nn.Sequential:
    """Train the probe head on fixed features; returned in eval mode."""
    head = linear_head(train_x.shape[1], classes, generator)
    opt = torch.optim.SGD(head.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    n = len(train_x)
    batch = min(cfg.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    total = steps_per_epoch * cfg.epochs
    loss_fn = nn.CrossEntropyLoss()
    step = 0
    for _ in range(cfg.epochs):
        head.train()
        order = torch.randperm(n, generator=generator)
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            for group in opt.param_groups:
                group["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
            loss = loss_fn(head(train_x[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return head.eval()


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, classes: int, cfg: LinearParams,
                 generator: torch.Generator) -> ProbeResult:
    head = train_linear_head(train_x, train_y, classes, cfg, generator)
    with torch.no_grad():
        logits = head(test_x)
    return ProbeResult(topk_accuracy(logits, test_y, 1), topk_accuracy(logits, test_y, 5),
                       logits.argmax(dim=1), logits)
