"""SkeletonMAE with spatial-temporal masking (Wu et al., ICMEW 2023; methods.md §4).

Verified from the abstract: an MAE-style encoder-decoder transformer reconstructs masked skeleton
sequences; "Spatial-Temporal Masking" works at joint level and frame level; the pre-trained encoder
is then used on unmasked sequences. We build it as the MAMP-lineage plain transformer ("SkeletonMAE
(Transformer)" in later papers' tables, MAMP's `model_mae` baseline), via `skelssl.methods.mae`:
- masking: whole joints (all segments) and whole temporal segments (all joints), drawn uniformly per
  sample, union masked (`skelssl.masking.spatial_temporal`);
- target: the raw coordinate patches (t_patch frames × xyz per token), normalised per token when
  `norm_target` (MAE's norm_pix_loss, as MAMP's `model_mae`); MSE on masked tokens only.
*Unverified* (no code, paper body unreachable): the backbone (the paper reportedly used STTFormer;
we use the MAMP transformer), the joint and frame mask ratios and how the two levels combine (we
take the union, per sample), whether a "frame" is one frame or one temporal token (we mask tokens),
the target normalisation, the decoder size and the pre-training schedule; the weight-decay
exemptions (we keep those of MAMP's `model_mae` run, timm's 1-D/bias rule, `skelssl.methods.mae`).

On small real datasets (issue 13; measured, docs/real-data-tuning.md, committed CPU defaults,
200-epoch probe, seed 0, MSR Action3D validation split): the pretrained probe scores below its
random-init twin (49.2 vs 61.0; −16.9 after 100 epochs, −4.2 with decoder depth 4), and kNN too.
A hypothesis, not measured: masked joints and segments can be filled in by interpolating their
unmasked neighbours, which needs no action-level features.
"""

from __future__ import annotations

import torch

from skelssl.config import SkeletonMAESTParams
from skelssl.masking import Mask
from skelssl.masking.spatial_temporal import masked_counts, spatial_temporal_mask
from skelssl.methods.mae import MaskedReconstruction
from skelssl.skeleton import Layout


class SkeletonMAEST(MaskedReconstruction):
    cfg: SkeletonMAESTParams

    def __init__(self, cfg: SkeletonMAESTParams, layout: Layout, frames: int) -> None:
        super().__init__(cfg, layout, frames)
        # fail at construction, not at the first step, when the ratios mask nothing
        masked_counts(self.encoder.segments, layout.num_joints, cfg.mask.joint_ratio, cfg.mask.frame_ratio)

    def make_mask(self, x: torch.Tensor, generator: torch.Generator) -> Mask:
        m = self.cfg.mask
        return spatial_temporal_mask(x.shape[0], self.encoder.segments, self.encoder.num_joints,
                                     m.joint_ratio, m.frame_ratio, generator, x.device)

    def make_target(self, x: torch.Tensor) -> torch.Tensor:
        return x
