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
random-init twin (49.2 vs 61.0; −16.9 after 100 epochs), and kNN too; decoder depth 4 or 8
(3 seeds each: gap −3.4, −0.3 against −2.8 for depth 2) does not change that. Why, measured
(benchmarks/real/pretext_baselines.py, held-out validation clips, the method's own loss): the
pretext needs no action-level features there. With no encoder at all, linear interpolation in
time plus a per-segment linear map of the pose reconstructs the masked tokens better than the
pretrained model (MSR 0.133 vs 0.197, UTD-MHAD 0.158 vs 0.175; predicting zero 0.92), so what
pretraining fits is at most a local pose interpolator; and a decoder trained on the frozen
random encoder meets the pretext within 0.003 (MSR), 0.021 (UTD-MHAD) and 0.043 (Penn Action) of
full pretraining, so the encoder's own learning adds 0.4–7% of the drop below predicting zero
(seed 0). On Penn Action the model beats that rule
slightly (0.286 vs 0.304) and its test gap is positive (+4.4; −7.8 MSR, −6.9 UTD-MHAD). Beating
that rule is not enough, though: harder masks on MSR (joint ratio 0.9, or frame ratio 0.875;
3 seeds each) lowered the gap to −5.9 and −9.6, and with frame ratio 0.875 the model does beat
the rule (0.199 vs 0.220). Nor does the unnormalised coordinate target (`norm_target: false`,
which keeps each masked joint's position instead of only its shape within the token; 3 seeds per
dataset, validation splits): gap +3.4 ± 0.9 vs −2.8 ± 7.2 committed on MSR, −12.6 vs −13.0 on
UTD-MHAD, +3.1 vs +2.8 on Penn Action. How high the bar is (benchmarks/real/supervised_ceiling.py,
"Twentieth session"): this transformer trained *with the labels* on the same fit clips beats its
twin's linear probe by only +4.5 ± 2.6 on MSR Action3D and +8.5 ± 0.6 on Penn Action, out of
reach of +10 for any pretext under this probe; on UTD-MHAD by +20.1 ± 8.8, room this pretext
leaves unused.
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
