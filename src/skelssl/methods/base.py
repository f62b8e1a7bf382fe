"""What every pretraining method provides to the training loop."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Batch(NamedTuple):
    """A training batch on the training device. x: (N, M, T, V, C); motion: (N, M, T, V); spans:
    (N, 3) [valid frames F, first, length] of the original clips (`skelssl.augment.clip_spans`),
    for the temporal augmentation; None when unknown (the T preprocessed frames count as valid)."""

    x: torch.Tensor
    motion: torch.Tensor
    spans: torch.Tensor | None = None


class StepOutput(NamedTuple):
    loss: torch.Tensor
    logs: dict[str, float]  # diagnostics written to the history (collapse checks, mask ratio, ...)


def embedding_spread(h: torch.Tensor) -> dict[str, float]:
    """The collapse diagnostics every method logs (dvc.yaml's `collapse_diagnostics` plot), from its
    encoder's output pooled per sample, h (N, D): `emb_std`, the per-dimension std over the batch,
    averaged over dimensions (→ 0 when every sample maps to one point), and `emb_norm_std`, the same
    for the L2-normalised rows (≈ 1/√D when spread over all dimensions, → 0 when collapsed to one
    direction; the diagnostic of Chen & He's SimSiam)."""
    h = h.detach().float()
    return {"emb_std": h.std(dim=0).mean().item(),
            "emb_norm_std": nn.functional.normalize(h, dim=1).std(dim=0).mean().item()}


def exempt_1d_and_biases(name: str, param: nn.Parameter) -> bool:
    """timm's weight-decay rule (`add_weight_decay` / `param_groups_weight_decay` with no skip list):
    only 1-D parameters (norms, LayerScale, ...) and biases are exempt; embeddings and tokens decay."""
    return param.ndim <= 1 or name.endswith(".bias")


def exempt_1d_biases_embeddings(name: str, param: nn.Parameter) -> bool:
    """skelssl's default: also positional embeddings (`pos_`) and learned tokens (`token`) are exempt.
    Used where no reference code shows the rule (graph SkeletonMAE)."""
    return exempt_1d_and_biases(name, param) or "pos_" in name or "token" in name


class Method(nn.Module):
    """A method owns `self.encoder` (the only part that leaves pretraining) and its private heads.

    Constructed as `cls(cfg, layout, frames)`. Subclasses implement
    `forward(batch, generator) -> StepOutput`, applying their own augmentation and masks with the
    given generator (the batch arrives un-augmented, on the training device), and may override
    `after_step(step, total_steps)` (e.g. an EMA teacher update), `export_encoder()` and
    `no_weight_decay(name, param)` (its reference's weight-decay exemptions).
    """

    encoder: nn.Module

    def no_weight_decay(self, name: str, param: nn.Parameter) -> bool:
        """Whether the trainable parameter `name` (as in `named_parameters()`) is exempt from weight
        decay in pretraining (`skelssl.train.param_groups`). Each method follows its reference."""
        return exempt_1d_biases_embeddings(name, param)

    def after_step(self, step: int, total_steps: int) -> dict[str, float]:
        return {}

    def export_encoder(self) -> nn.Module:
        return self.encoder
