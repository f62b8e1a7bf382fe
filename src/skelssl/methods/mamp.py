"""MAMP (Mao et al., ICCV 2023): masked motion prediction with motion-aware masking.

Follows methods.md §1 (the authors' code, github.com/maoyunyao/MAMP, `model_mamp/transformer.py`):
- the shared MAE pipeline of `skelssl.methods.mae` (rotation, encoder on visible tokens,
  decoder, per-token MSE on masked tokens; the encoder/decoder sizes come from params);
- masking: motion-aware Gumbel sampling over all tokens with temperature τ
  (`skelssl.masking.motion`), computed from the rotated coordinates, as MAMP masks the augmented
  input; 90 % masking keeps int(750·0.1) = 74 tokens (the reference's float truncation);
- target: the motion D[t] = X[t+1] − X[t] (stride 1 frame; the last frame's motion is 0),
  patchified like the input and normalised per token when `norm_target` (unbiased var, eps 1e-6);
- only joint coordinates are fed; motion is only the target.
Choices of ours / *unverified*: `skip_absent_persons` (see `mae`; off in the paper preset); the
motion stride is fixed to 1 frame (MAMP's `motion_stride` default, the value its scripts use), so at
our shorter CPU default clips (32 frames instead of 120) one step spans more time than in the paper.
Documented deviation: LayerNorm eps. MAMP's encoder and decoder use `nn.LayerNorm` with PyTorch's
default eps 1e-5 (`model_mamp/transformer.py`: `norm_layer=nn.LayerNorm` in `Block` and
`Transformer`, not overridden by the configs; the same in `model/transformer.py` for the
probe/fine-tune model); skelssl's `SkeletonTransformer` and `TokenDecoder` hard-code eps 1e-6
(Skeleton2vec's value) for every method, not a parameter. methods.md §1.1 measured the effect
with the official weights: up to 3.3e-4 on the encoder outputs.

On small real datasets (issue 13; measured on validation splits carved from the training sides,
docs/real-data-tuning.md, committed CPU defaults, 200-epoch probe): the pretrained linear probe
does not beat its random-init twin by 10 points: MSR Action3D +3.4 (64.7 vs 61.3, mean of 3
seeds), UTD-MHAD −7.1 (3 seeds), Penn Action +4.5 (3 seeds). The twin (this transformer without
LayerScale, random) is already a strong random-feature classifier (52–69%), and with 173–939 clips
(a few hundred optimiser steps) the motion pretext explains about 10% of its normalised target
(final loss 0.90 on MSR): the features help kNN (+3.9 MSR, +21.6 Penn) but not a converged linear
probe. Mask ratio 0.6 / 0.75, decoder depth 4, temporal random crop and 15–100 epochs did not
change that, and neither did more or larger optimiser steps (MSR validation split, seed 0, gap of
the committed defaults −1.7 there; docs/real-data-tuning.md, "Fourth session"): lr 3e-3 −10.2,
batch 8 (4× the steps) −4.2, both −12.7, batch 8 for 100 epochs (2,100 steps; loss 0.907 → 0.866)
−14.4. More fitting of the motion target lowers the linear probe here. Measured on held-out
validation clips with the method's own loss (benchmarks/real/pretext_baselines.py): the pretrained
model predicts the masked motion no better than zero on MSR (0.900 vs 0.905), 8% better on UTD-MHAD
and 12% on Penn Action, where its kNN gain is large; interpolation or a per-segment linear map of
the pose does not help this target (0.90 on MSR), so the pretext is not trivial, only out of reach
of a few hundred steps on a few hundred clips. A decoder trained on the frozen random encoder gets
most of that drop too (0.901 MSR, 0.762 UTD-MHAD, 0.708 Penn Action against 0.900, 0.745, 0.689
pretrained; seed 0): the encoder's own learning adds 20–28% of the drop below zero on UTD-MHAD and
Penn Action and nothing measurable on MSR. With 3 seeds on Penn Action too the committed gap is
+4.5 ± 1.6. An unnormalised motion target (`norm_target: false`, which keeps how far a joint
moves) gave +2.0 ± 6.1 on MSR (3 seeds; +3.4 ± 4.5 committed): not a lever either.
How high the bar is (benchmarks/real/supervised_ceiling.py, docs/real-data-tuning.md, "Twentieth
session"): this transformer, trained *with the labels* on the same fit clips and then probed like
a pretrained encoder, beats its twin's linear probe by only +4.5 ± 2.6 on MSR Action3D (3 seeds)
and +8.5 ± 0.6 on Penn Action, so there no pretext can be expected to clear +10 under this
probe; on UTD-MHAD it beats it by +20.1 ± 8.8, room the motion pretext leaves unused. The paper's
size (encoder 8 × 256, 8 heads, decoder 2 × 256) gave +2.0 on MSR (3 seeds): no lever.
"""

from __future__ import annotations

import torch

from skelssl.config import MampParams
from skelssl.masking import Mask
from skelssl.masking.motion import motion_aware_gumbel_mask
from skelssl.methods.mae import MaskedReconstruction


def motion_target(x: torch.Tensor) -> torch.Tensor:
    """(B, T, V, C) → D with D[:, t] = x[:, t+1] − x[:, t] and D[:, T−1] = 0."""
    motion = torch.zeros_like(x)
    motion[:, :-1] = x[:, 1:] - x[:, :-1]
    return motion


class MAMP(MaskedReconstruction):
    cfg: MampParams

    def make_mask(self, x: torch.Tensor, generator: torch.Generator) -> Mask:
        return motion_aware_gumbel_mask(x, self.t_patch, self.cfg.mask.ratio, self.cfg.mask.tau, generator)

    def make_target(self, x: torch.Tensor) -> torch.Tensor:
        return motion_target(x)
