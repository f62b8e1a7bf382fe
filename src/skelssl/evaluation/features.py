"""Frozen-encoder feature extraction: eval mode, no gradients; without augmentation, or (the
augmented linear probe) from freshly augmented clips."""

from __future__ import annotations

import torch
from torch import nn

from skelssl.augment import random_rotation, temporal_augment
from skelssl.config import ProbeAugment


@torch.no_grad()
def extract_features(encoder: nn.Module, x: torch.Tensor, batch_size: int,
                     device: torch.device) -> torch.Tensor:
    """x (N, M, T, V, C) → pooled embeddings (N, D) on the CPU, float32."""
    encoder.to(device).eval()
    out = [encoder(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0, getattr(encoder, "out_dim", 0))


@torch.no_grad()
def extract_augmented_features(encoder: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device,
                               augment: ProbeAugment, generator: torch.Generator,
                               spans: torch.Tensor | None = None) -> torch.Tensor:
    """Like `extract_features`, from clips augmented batch by batch (on the CPU, draws from
    `generator`): `augment.temporal` (skelssl.augment.temporal_augment, `spans` the original clips'
    valid frames) then a random rotation U(−augment.rotation, augment.rotation) per axis."""
    encoder.to(device).eval()
    out = []
    for i in range(0, len(x), batch_size):
        clip = temporal_augment(x[i:i + batch_size], augment.temporal, generator,
                                None if spans is None else spans[i:i + batch_size])
        clip = random_rotation(clip, augment.rotation, generator)
        out.append(encoder(clip.to(device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0, getattr(encoder, "out_dim", 0))


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Percentage of samples whose label is among the k highest logits."""
    k = min(k, logits.shape[1])
    hits = (logits.topk(k, dim=1).indices == labels.unsqueeze(1)).any(dim=1)
    return 100.0 * hits.sum().item() / max(1, len(labels))
