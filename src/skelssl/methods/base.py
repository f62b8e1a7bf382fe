"""What every pretraining method provides to the training loop."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Batch(NamedTuple):
    """A training batch on the training device. x: (N, M, T, V, C); motion: (N, M, T, V)."""

    x: torch.Tensor
    motion: torch.Tensor


class StepOutput(NamedTuple):
    loss: torch.Tensor
    logs: dict[str, float]  # diagnostics written to the history (collapse checks, mask ratio, ...)


class Method(nn.Module):
    """A method owns `self.encoder` (the only part that leaves pretraining) and its private heads.

    Constructed as `cls(cfg, layout, frames)`. Subclasses implement
    `forward(batch, generator) -> StepOutput`, applying their own augmentation and masks with the
    given generator (the batch arrives un-augmented, on the training device), and may override
    `after_step(step, total_steps)` (e.g. an EMA teacher update) and `export_encoder()`.
    """

    encoder: nn.Module

    def after_step(self, step: int, total_steps: int) -> dict[str, float]:
        return {}

    def export_encoder(self) -> nn.Module:
        return self.encoder
