"""PSTL (Zhou et al., AAAI 2023): partial spatio-temporal skeleton representation learning.

Follows methods.md §5 ([PSTL-code] `procedure.py` BTProcessor, `model.py`):
- three streams of the same clip, each with its own augmentation draw (crop with mirrored
  padding → shear → one-main-axis rotation → left/right swap; skelssl.augment_pstl):
  anchor (no mask), MATM (motion-attention temporal masking: the `matm_frames` highest-energy
  frames dropped, then `matm_random_frames` random ones) and CSM (central spatial masking:
  `csm_joints` degree-weighted draws of joints removed from the input and from the graph of every
  ST-GCN unit; one draw per batch); skelssl.masking.pstl;
- one shared ST-GCN encoder (skelssl.backbones.stgcn; persons averaged inside it) and one shared
  projector Linear(out→P, no bias) → BN → ReLU → Linear(P→P) → BN → ReLU → Linear(P→P),
  P = `projector_dim`, each branch then standardised by a BatchNorm1d without affine parameters;
- loss: Barlow Twins, C = BN(z_a)ᵀ BN(z_b) / N, L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²;
  total = L(anchor, MATM) + L(anchor, CSM). No negatives, EMA or predictor (when N < D the loss
  comes from N × N Gram matrices without forming C: the same function, `cross_correlation`);
- the MATM energy is computed on the stream's augmented clip, as the reference does;
- weight decay on *every* parameter, biases, BatchNorm and edge-importance masks included (the
  reference's `torch.optim.Adam([...encoder, btwins_head...], weight_decay=...)`; `no_weight_decay`).
Choices of ours (*unverified* against the paper): augmentation parameters are drawn per sample
(the reference draws one set per batch); the projector's two inner Linears have no bias (as the
reference code; a bias before BatchNorm is cancelled anyway) and its last Linear has none either
(the affine-free BN after it removes any bias); the anchor is projected once and reused by both
losses (the reference projects it twice, which gives the same values and gradients), and the
three streams share each projector GEMM (`project_streams`; BatchNorm still per stream); the
standardising BN uses batch statistics only (no running averages: they are never used).
Documented deviations from the reference's training loop (minor):
- lr schedule: the reference's `adjust_learning_rate` (`procedure.py` L73–80, called once at the
  start of each epoch, L414) sets one lr per epoch: lr·e/10 during the 10 warmup epochs (so epoch
  0 runs at lr 0), then a cosine over the remaining epochs; `skelssl.train.lr_at` updates the lr
  every step (a linear warmup over the warmup epochs' steps, then a per-step half-cosine);
- last batch: the reference's train loader keeps the last incomplete batch (`procedure.py`
  L37–41, `drop_last` left at False); `skelssl.train.pretrain` drops it (as MAMP does), so up to
  `batch_size − 1` clips are left out of each epoch (a different subset every epoch).

On small real datasets (issue 13; measured, docs/real-data-tuning.md, committed CPU defaults,
200-epoch probe, seed 0, MSR Action3D validation split): the pretrained probe scores below its
random-init ST-GCN twin (39.8 vs 46.6; −8.5 with 150 epochs at batch 32, −6.8 with milder
shear/rotation) while its kNN is above it (+7.6): Barlow Twins on 173 clips learns augmentation
invariances that kNN rewards but a converged BatchNorm-linear probe does not. On the test splits
(docs/report-real, 3 seeds) the gap is −18.9 (MSR), −7.4 (UTD-MHAD), −6.6 (Penn Action); on the
validation splits, 3 seeds each, −19.5 ± 4.7, −14.5 ± 7.7 and −5.3 ± 7.5 (the seed-0 figures
in this paragraph ran on another machine: on today's, the same code gives 31.4 vs 46.6 there,
gap −15.3; float results depend on the CPU, and ST-GCN + Barlow Twins amplifies that). Not the
BatchNorm running statistics of the augmented, masked streams: re-estimated on the clean training
clips they give 38.1 instead of 39.8 (benchmarks/real/bn_recalibration.py). Nor any single lever
tried on the same split (seed 0, runs.tsv; gap −6.8 as committed): PSTL's ST-GCN width 16/256
−12.7 (the wider random twin gains more: 56.8), projector 128 / 2048 −11.9 / −16.1, λ 5e-3
(Barlow Twins' own) −16.1, no left/right flip −30.5, batch 16 −19.5, dropout 0 −20.3. With 173
clips the pretext learns invariances that cost the linear probe more than they give. What the
probe reads, measured (benchmarks/real/feature_spectrum.py, the validation protocol's fit clips,
3 seeds per dataset): the pretrained encoder's 128 pooled channels rise and fall together, 86–90%
of their standardised variance along one direction on MSR Action3D and UTD-MHAD (effective rank
1.6–1.7) and 70–79% on Penn Action (2.2–2.8), against 41–75% (2.4–6.1) for the random twin in
every pair; that direction is the common activation level (|r| 0.79–0.98 with the clips' mean
standardised feature). Barlow Twins decorrelates the projector's outputs, not the encoder's,
and the other four methods' features use about as many directions as their twins'. Unlike the
masked pretexts (whose decoders meet them almost as well on a frozen random encoder), Barlow Twins
here needs the encoder to learn: with the encoder frozen the projector alone ends at 1.7–3.5× the
pretrained training loss (MSR Action3D 346–384 vs 108–109, UTD-MHAD 171–207 vs 98, Penn Action 173
vs 99; seeds 0–1, docs/real-data-tuning.md, "Nineteenth session"), so the collapse is what the
encoder learns for its pretext. Fine-tuning
this ST-GCN uses `evaluate.finetune.stgcn`, PSTL's own recipe: with the transformer recipe the
benchmark's fine-tune / scratch columns sat at 18–35% on MSR/UTD (under-training), while PSTL's
recipe at 150 epochs reaches 55% on MSR's validation split (docs/real-data-tuning.md).
How high the bar is (benchmarks/real/supervised_ceiling.py, "Twentieth session"): this ST-GCN
trained *with the labels* on the same fit clips beats its twin's linear probe by +9.6 ± 6.0 on MSR
Action3D and +17.3 ± 8.4 on UTD-MHAD (3 seeds): room that the collapse above leaves unused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from skelssl.augment_pstl import pstl_augment
from skelssl.backbones.linear import Linear
from skelssl.backbones.stgcn import STGCN
from skelssl.config import PSTLParams
from skelssl.masking.pstl import central_spatial_mask, gather_frames, motion_attention_temporal_mask
from skelssl.methods.base import Batch, Method, StepOutput, embedding_spread
from skelssl.skeleton import Layout


def standardise(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """BatchNorm1d(affine=False) in training mode: per-dimension zero mean, unit (biased) variance."""
    return F.batch_norm(z, None, None, training=True, eps=eps)


@dataclass(frozen=True)
class Correlation:
    """What Barlow Twins needs of C = BN(z_a)ᵀ BN(z_b) / N (D × D): its diagonal and Σ_ij C_ij²."""

    diag: torch.Tensor  # (D,)
    sum_sq: torch.Tensor  # scalar

    @property
    def off_sq(self) -> torch.Tensor:
        """Σ_{i≠j} C_ij²."""
        return self.sum_sq - self.diag.pow(2).sum()


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor) -> Correlation:
    """Diagonal and squared Frobenius norm of C = BN(z_a)ᵀ BN(z_b) / N, in float32.

    When N < D (PSTL: N = 128, D = 6144) C is never formed: ‖AᵀB‖²_F = Σ (AAᵀ) ⊙ (BBᵀ) uses two
    N × N Gram matrices (2·N²·D multiply-adds instead of N·D², and no D × D tensor). The same
    function of the inputs as the direct form (tested), so the same loss and gradients up to
    floating-point rounding.
    """
    a, b = standardise(z_a.float()), standardise(z_b.float())
    n, d = a.shape
    diag = (a * b).sum(dim=0) / n
    if n < d:
        sum_sq = ((a @ a.T) * (b @ b.T)).sum() / (n * n)
    else:
        sum_sq = (a.T @ b / n).pow(2).sum()
    return Correlation(diag, sum_sq)


def barlow_twins_loss(c: Correlation, lambd: float) -> torch.Tensor:
    """Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij² for a cross-correlation matrix C."""
    return (1.0 - c.diag).pow(2).sum() + lambd * c.off_sq


def projector(in_dim: int, dim: int) -> nn.Sequential:
    return nn.Sequential(
        Linear(in_dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
        Linear(dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
        Linear(dim, dim, bias=False),
    )


def project_streams(layers: nn.Sequential, streams: list[torch.Tensor]) -> list[torch.Tensor]:
    """[layers(h) for h in streams], with each Linear run once on the streams' rows stacked.

    Row-wise layers (Linear, ReLU) see all streams at once: one GEMM and one weight-gradient
    product per layer instead of one per stream (PSTL's 6144² weight gradient on oneDNN, 2 threads:
    one 384-row product 130 ms, three 128-row ones 3 × 77 ms). Each BatchNorm still normalises every stream
    with its own batch statistics, in stream order, so values, gradients and running statistics
    are those of separate calls (tested).
    """
    sizes = [len(h) for h in streams]
    z = torch.cat(streams)
    for layer in layers:
        if isinstance(layer, nn.BatchNorm1d):
            z = torch.cat([layer(part) for part in z.split(sizes)])
        else:
            z = layer(z)
    return list(z.split(sizes))


class PSTL(Method):
    def __init__(self, cfg: PSTLParams, layout: Layout, frames: int) -> None:
        super().__init__()
        if cfg.mask.csm_joints >= layout.num_joints:
            raise ValueError(f"mask.csm_joints ({cfg.mask.csm_joints}) must be < {layout.num_joints} joints")
        if cfg.mask.matm_frames + cfg.mask.matm_random_frames >= frames:
            raise ValueError(f"mask.matm_frames + matm_random_frames must be < frames ({frames})")
        self.cfg = cfg
        self.layout = layout
        self.encoder = STGCN(cfg.backbone, layout, frames)
        self.projector = projector(self.encoder.out_dim, cfg.projector_dim)

    def no_weight_decay(self, name: str, param: nn.Parameter) -> bool:
        """None exempt: the reference's Adam applies its weight_decay to all parameters."""
        return False

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        a = self.cfg.augment
        return pstl_augment(x, self.layout, a.shear, a.rotation_main, a.rotation_other, a.flip_prob,
                            generator)

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        x, mask = batch.x, self.cfg.mask
        anchor = self.augment(x, generator)
        temporal = self.augment(x, generator)
        frames = motion_attention_temporal_mask(temporal, mask.matm_frames, mask.matm_random_frames,
                                                generator)
        temporal = gather_frames(temporal, frames)
        spatial = self.augment(x, generator)
        kept, _ = central_spatial_mask(self.layout, mask.csm_joints, generator, x.device)

        h_anchor = self.encoder(anchor)
        h_temporal = self.encoder(temporal)
        h_spatial = self.encoder(spatial, joints=kept)
        z_anchor, z_temporal, z_spatial = project_streams(self.projector, [h_anchor, h_temporal, h_spatial])
        c_temporal = cross_correlation(z_anchor, z_temporal)
        c_spatial = cross_correlation(z_anchor, z_spatial)
        loss_temporal = barlow_twins_loss(c_temporal, self.cfg.lambd)
        loss_spatial = barlow_twins_loss(c_spatial, self.cfg.lambd)
        loss = loss_temporal + loss_spatial
        with torch.no_grad():
            logs = {
                "bt_temporal": loss_temporal.item(),
                "bt_spatial": loss_spatial.item(),
                **collapse_stats(c_temporal, c_spatial, h_anchor),
                "kept_joints": float(len(kept)),
                "kept_frames": float(frames.shape[1]),
            }
        return StepOutput(loss, logs)


def collapse_stats(c_temporal: Correlation, c_spatial: Correlation, h: torch.Tensor) -> dict[str, float]:
    """Mean diagonal and mean squared off-diagonal of both C; the spread of the anchor stream's
    encoder output (`embedding_spread`, as every method logs it)."""
    d = c_temporal.diag.shape[0]
    diag = torch.cat([c_temporal.diag, c_spatial.diag])
    off_sq = (c_temporal.off_sq + c_spatial.off_sq) / (2 * d * (d - 1))
    return {"c_diag": diag.mean().item(), "c_offdiag_sq": off_sq.item(), **embedding_spread(h)}
