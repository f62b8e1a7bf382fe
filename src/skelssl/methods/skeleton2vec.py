"""Skeleton2vec (Xu et al. 2024): data2vec-style contextualised targets for skeletons.

Follows methods.md §2 (the authors' development repo; the paper's own settings are *unverified*):
- student: transformer encoder on the visible tokens only, then a light decoder (Linear embed,
  learned mask token, own positional embeddings, pre-LN blocks, LN) and a Linear feature head;
- teacher: an EMA copy of the encoder, run on the *unmasked* sequence, no gradients;
- targets: the teacher's last `top_k` block outputs (before the final LN), each instance-normalised
  (per sample and channel over tokens; `target_norm: layer` = parameter-free LayerNorm per token),
  averaged, then a parameter-free LayerNorm over channels;
- loss: MSE between the feature head's prediction and the target, on masked tokens only;
- augmentation: `augment.temporal` (the dev configs' `UniformSampleDecode` to 90 frames:
  "uniform_segments"; skelssl.augment.temporal_augment), then the random rotation;
- masking: motion-aware tube masking (skelssl.masking.tube), its motion prior the mean |Δx| per
  token over frames and coordinates, computed after the rotation (the dev pipeline's `RandomRot`
  precedes `ToMotion`; `skelssl.masking.tube.abs_frame_motion`);
- initialisation: trunc-normal(0.02) Linear and Conv2d weights, zero biases, over encoder, decoder
  and feature head (the dev code's `Skeleton2Vec2._init_weights`; MAMP's xavier is not used), and
  the decoder blocks carry the encoder's LayerScale init and drop-path rate (`SkTWithDecoder`);
- weight decay: timm's `param_groups_weight_decay` with the dev code's `no_weight_decay()` list:
  1-D parameters, biases and the four positional embeddings (encoder's and decoder's) are exempt;
  the mask token decays (`no_weight_decay` below). Read in the dev repository's later history
  (commit 14935c1: `dist_pretrain2.py` takes this path when the config sets
  `weight_decay_groups: true`, as `configs/ntu60_xsub/pretrain_skt2vec2.yaml` does, and
  `Skeleton2Vec2.no_weight_decay` returns those four embeddings); earlier versions
  (`dist_pretrain2.py`@14b7823) passed `model.parameters()` to AdamW, decaying everything;
- EMA decay annealed linearly from `ema.start` to `ema.end` over `anneal_fraction` of the run.
Documented deviations from the dev code (minor):
- positional-embedding init: the dev code's `JointEmbedding` applies trunc-normal(0.02) to
  `spatio_pos_emb` twice and never to `temporal_pos_emb`, which stays at zero at the start of
  training (`models/transformer.py`@0b3e065 and @14935c1); skelssl initialises both encoder
  embeddings with trunc-normal(0.02) (`SkeletonTransformer`; `trunc_normal_init` leaves them);
  the decoder's two embeddings are trunc-normal(0.02) in both;
- last batch: the dev pretraining loader (`dist_pretrain2.py`, a DistributedSampler without
  `drop_last`) keeps the last incomplete batch; `skelssl.train.pretrain` drops it (as MAMP does);
- linear probe head: the dev `ClassificationHeadLight` uses BatchNorm1d(affine=False) with
  PyTorch's default eps 1e-5; skelssl's "bn_linear" head uses MAMP's 1e-6
  (`skelssl.evaluation.linear.linear_head`).
Choices of ours: `skip_absent_persons` (off in the paper preset) leaves all-zero second persons
out of the step, where the references encode them and regress their trivial targets; the teacher is an EMA of the *encoder* only (the dev code EMAs the whole
auto-encoder but only ever runs its encoder, which is equivalent); `export: teacher` evaluates the
EMA model as the dev configs do (`using_ema_model: true`, paper preset), while the short CPU default
exports the student, since after a few hundred steps the EMA teacher still lags far behind it.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from skelssl.augment import random_rotation, temporal_augment
from skelssl.backbones.transformer import SkeletonTransformer, trunc_normal_init
from skelssl.config import Skeleton2vecParams
from skelssl.masking import motion_aware_tube_mask, token_motion
from skelssl.masking.tube import abs_frame_motion
from skelssl.methods.base import Batch, Method, StepOutput, embedding_spread, exempt_1d_and_biases
from skelssl.methods.decoder import TokenDecoder
from skelssl.skeleton import Layout


def contextual_targets(layers: list[torch.Tensor], norm: str) -> torch.Tensor:
    """Average of per-layer-normalised teacher block outputs, then a parameter-free LayerNorm."""
    normed = []
    for h in layers:
        if norm == "instance":
            normed.append(F.instance_norm(h.float().transpose(1, 2)).transpose(1, 2))
        else:
            normed.append(F.layer_norm(h.float(), h.shape[-1:]))
    target = torch.stack(normed).mean(dim=0)
    return F.layer_norm(target, target.shape[-1:])


def ema_decay(step: int, total_steps: int, start: float, end: float, anneal_fraction: float) -> float:
    anneal_steps = max(1, round(anneal_fraction * total_steps))
    if step >= anneal_steps:
        return end
    return start + (end - start) * step / anneal_steps


# `Skeleton2Vec2.no_weight_decay()` of the dev code (models/skeleton2vec.py@14935c1), in our names
_NO_DECAY_EMBEDDINGS = frozenset({"encoder.pos_spatial", "encoder.pos_temporal",
                                  "decoder.pos_spatial", "decoder.pos_temporal"})


class Skeleton2vec(Method):
    def __init__(self, cfg: Skeleton2vecParams, layout: Layout, frames: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SkeletonTransformer(cfg.backbone, layout, frames)
        self.decoder = TokenDecoder(cfg.decoder, cfg.backbone.dim, cfg.backbone.dim,
                                    self.encoder.segments, layout.num_joints,
                                    layer_scale=cfg.backbone.layer_scale,
                                    drop_path=cfg.backbone.drop_path)
        self.encoder.apply(trunc_normal_init)
        self.decoder.apply(trunc_normal_init)
        self.teacher = copy.deepcopy(self.encoder).requires_grad_(False)
        self._decay = cfg.ema.start

    def train(self, mode: bool = True) -> Skeleton2vec:
        super().train(mode)
        self.teacher.eval()  # the teacher never uses dropout / drop-path
        return self

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        x = temporal_augment(batch.x, self.cfg.augment.temporal, generator, batch.spans)  # first, as the feeders
        x = random_rotation(x, self.cfg.augment.rotation, generator).flatten(0, 1)  # (B, T, V, C)
        motion = token_motion(abs_frame_motion(x), self.cfg.backbone.t_patch)  # after the rotation
        if self.cfg.skip_absent_persons:
            present = x.flatten(1).abs().amax(dim=1) > 0
            x, motion = x[present], motion[present]
        mask = motion_aware_tube_mask(motion, self.cfg.mask.ratio, self.cfg.mask.tube_tokens,
                                      self.cfg.mask.motion_weight, generator)
        with torch.no_grad():
            _, layers = self.teacher.forward_tokens(x, return_layers=True)
            target = contextual_targets(layers[-self.cfg.top_k:], self.cfg.target_norm)
        visible, _ = self.encoder.forward_tokens(x, ids_keep=mask.ids_keep)
        pred = self.decoder(visible, mask)
        pred_m, target_m = pred[mask.masked].float(), target[mask.masked]
        loss = F.mse_loss(pred_m, target_m)
        logs = {
            "pred_var": pred_m.var(dim=0).mean().item(),
            "target_var": target_m.var(dim=0).mean().item(),
            **embedding_spread(visible.mean(dim=1)),  # the student's visible tokens, per sequence
            "masked_pct": 100.0 * mask.masked.sum().item() / mask.masked.numel(),
        }
        return StepOutput(loss, logs)

    def no_weight_decay(self, name: str, param: nn.Parameter) -> bool:
        """timm's rule plus the dev code's list: the encoder's and decoder's positional embeddings."""
        return exempt_1d_and_biases(name, param) or name in _NO_DECAY_EMBEDDINGS

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> dict[str, float]:
        """EMA update of the teacher, with the decay annealed over the run."""
        e = self.cfg.ema
        self._decay = ema_decay(step, total_steps, e.start, e.end, e.anneal_fraction)
        if self._decay < 1.0:
            for t, s in zip(self.teacher.parameters(), self.encoder.parameters(), strict=True):
                t.lerp_(s.detach(), 1.0 - self._decay)
        return {"ema_decay": self._decay}

    def export_encoder(self) -> nn.Module:
        return self.teacher if self.cfg.export == "teacher" else self.encoder
