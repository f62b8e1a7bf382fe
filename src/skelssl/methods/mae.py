"""Masked reconstruction on skeleton tokens: what MAMP and SkeletonMAE-ST share (methods.md §1, §4).

The MAE pipeline of MAMP's `model_mamp` / `model_mae` (methods.md §1.1, §1.3):
- augmentation: the temporal augmentation `augment.temporal` (MAMP's feeder: "random_crop" of
  [0.5, 1] of the valid frames, at least 64, resized to T; skelssl.augment.temporal_augment, which
  documents how it works from the preprocessed clip), then one random rotation per sample,
  U(−rotation, rotation) rad per axis; persons are then flattened into the batch (N·M independent
  sequences);
- encoder: the skeleton transformer on the *visible* tokens only (masked tokens are dropped);
- decoder: `TokenDecoder` (Linear embed, learned mask token, own spatial/temporal positional
  embeddings, pre-LN blocks, LN) and a Linear head to the t_patch·C values of each token;
- target: a per-token patch (t_patch frames × C, frame-major) of a method-specific signal; with
  `norm_target` each token's values are normalised to zero mean / unit variance (unbiased variance,
  eps 1e-6, as `norm_skes_loss`);
- loss: squared error averaged over each token's values, then over the masked tokens only.
Subclasses choose the mask (`make_mask`) and the signal (`make_target`).
Weight decay: timm's rule, as MAMP's `main_pretrain.py` (`optim_factory.add_weight_decay(model,
weight_decay)`, no skip list; it trains `model_mamp` and `model_mae` alike): only 1-D parameters and
biases are exempt, so positional embeddings and the mask token decay (`no_weight_decay`).

Choice of ours: `skip_absent_persons` (off in the paper presets) drops all-zero person sequences
(the empty second person of single-actor samples) from the step; the references encode them and
regress their trivial targets (0 after normalisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skelssl.augment import random_rotation, temporal_augment
from skelssl.backbones.transformer import SkeletonTransformer
from skelssl.config import MampParams, SkeletonMAESTParams
from skelssl.masking import Mask
from skelssl.masking.motion import patchify
from skelssl.methods.base import Batch, Method, StepOutput, embedding_spread, exempt_1d_and_biases
from skelssl.methods.decoder import TokenDecoder
from skelssl.skeleton import Layout


def normalise_tokens(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-token (last axis) zero mean / unit variance, unbiased variance + eps (MAE's norm_pix_loss)."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True, unbiased=True)
    return (target - mean) / (var + eps).sqrt()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Mean over masked tokens of the per-token mean squared error. pred/target (B, L, P), masked (B, L)."""
    per_token = (pred.float() - target).pow(2).mean(dim=-1)
    return per_token[masked].mean()


class MaskedReconstruction(Method):
    """Base of the MAE-style methods; `cls(cfg, layout, frames)` like every Method."""

    cfg: MampParams | SkeletonMAESTParams

    def __init__(self, cfg: MampParams | SkeletonMAESTParams, layout: Layout, frames: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SkeletonTransformer(cfg.backbone, layout, frames)
        self.t_patch = cfg.backbone.t_patch
        self.decoder = TokenDecoder(cfg.decoder, cfg.backbone.dim, self.t_patch * self.encoder.channels,
                                    self.encoder.segments, layout.num_joints)

    def no_weight_decay(self, name: str, param: torch.nn.Parameter) -> bool:
        """timm's `add_weight_decay` as MAMP calls it: exempt only 1-D parameters and biases."""
        return exempt_1d_and_biases(name, param)

    def make_mask(self, x: torch.Tensor, generator: torch.Generator) -> Mask:
        """Mask for the person-flattened, augmented sequences x (B, T, V, C)."""
        raise NotImplementedError

    def make_target(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame signal to reconstruct, same shape as x (B, T, V, C)."""
        raise NotImplementedError

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, V, C) → per-token targets (B, L, t_patch·C), normalised when `norm_target`."""
        target = patchify(self.make_target(x.float()), self.t_patch).flatten(1, 2)
        return normalise_tokens(target) if self.cfg.norm_target else target

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        x = temporal_augment(batch.x, self.cfg.augment.temporal, generator, batch.spans)  # first, as the feeders
        x = random_rotation(x, self.cfg.augment.rotation, generator).flatten(0, 1)  # (B, T, V, C)
        if self.cfg.skip_absent_persons:
            x = x[x.flatten(1).abs().amax(dim=1) > 0]
        mask = self.make_mask(x, generator)
        with torch.no_grad():
            target = self.targets(x)
        visible, _ = self.encoder.forward_tokens(x, ids_keep=mask.ids_keep)
        pred = self.decoder(visible, mask)
        loss = masked_mse(pred, target, mask.masked)
        pred_m, target_m = pred[mask.masked].detach().float(), target[mask.masked]
        logs = {
            "pred_var": pred_m.var(dim=0).mean().item(),
            "target_var": target_m.var(dim=0).mean().item(),
            **embedding_spread(visible.mean(dim=1)),  # the visible tokens' encoding, per sequence
            "masked_pct": 100.0 * mask.masked.sum().item() / mask.masked.numel(),
            "sequences": float(x.shape[0]),
        }
        return StepOutput(loss, logs)
