"""The one pretraining loop: AdamW, warmup + half-cosine lr per step, grad clipping, history.

Data live on the training device as tensors; each epoch draws a permutation from a generator
seeded by (seed, epoch) and each step's masks and augmentation use a generator seeded by
(seed, step), so a run is a pure function of params and seed on CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from skelssl.augment import random_rotation
from skelssl.config import PretrainParams
from skelssl.console import log, track
from skelssl.methods.base import Batch, Method
from skelssl.repro import torch_generator

HISTORY_COLUMNS = ("step", "epoch", "lr", "loss", "grad_norm")


def lr_at(step: int, total_steps: int, warmup_steps: int, lr: float, min_lr: float) -> float:
    """Linear warmup from 0, then half-cosine from `lr` to `min_lr` (updated every step)."""
    if step < warmup_steps:
        return lr * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay for biases, norms, positional embeddings and tokens (any 1-D or pos param)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or name.endswith((".bias",)) or "pos_" in name or "token" in name
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class History:
    rows: list[dict[str, float]]

    def to_tsv(self) -> str:
        columns = list(self.rows[0]) if self.rows else list(HISTORY_COLUMNS)
        lines = ["\t".join(columns)]
        for row in self.rows:
            lines.append("\t".join(_fmt(row[c]) for c in columns))
        return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def pretrain(method: Method, x: torch.Tensor, motion: torch.Tensor, cfg: PretrainParams,
             seed: int, device: torch.device) -> History:
    """Train `method` on x (N, M, T, V, C) and motion (N, M, T, V); return the per-step history."""
    n = x.shape[0]
    batch_size = min(cfg.batch_size, n)
    steps_per_epoch = n // batch_size  # drop the last incomplete batch, as the references do
    total = steps_per_epoch * cfg.epochs
    warmup = steps_per_epoch * cfg.warmup_epochs
    method.to(device).train()
    x, motion = x.to(device), motion.to(device)
    optimizer = torch.optim.AdamW(param_groups(method, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    log.info("pretrain: %d samples, %d steps (%d/epoch), device %s", n, total, steps_per_epoch, device)
    rows: list[dict[str, float]] = []
    step, started = 0, time.perf_counter()
    for epoch in track(range(cfg.epochs), "pretrain epochs"):
        order = torch.randperm(n, generator=torch_generator(seed, "epoch", epoch)).to(device)
        for b in range(steps_per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            gen = torch_generator(seed, "step", step, device=device)
            batch = Batch(random_rotation(x[idx], cfg.rotation, gen), motion[idx])
            lr = lr_at(step, total, warmup, cfg.lr, cfg.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            out = method(batch, gen)
            if not torch.isfinite(out.loss):
                raise FloatingPointError(f"non-finite loss at step {step}: {out.loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(method.parameters(), max_norm)
            optimizer.step()
            extra = method.after_step(step + 1, total)
            rows.append({"step": step, "epoch": epoch, "lr": lr, "loss": out.loss.item(),
                         "grad_norm": grad_norm.item(), **out.logs, **extra})
            step += 1
        log.info("epoch %d/%d loss %.4f (%.0f s)", epoch + 1, cfg.epochs, rows[-1]["loss"],
                 time.perf_counter() - started)
    return History(rows)
