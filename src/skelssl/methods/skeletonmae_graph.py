"""Graph SkeletonMAE (Yan et al., ICCV 2023): masked joint-feature reconstruction on skeleton graphs.

Follows methods.md §3 (main paper text; no official code exists):
- one graph per frame: joints = nodes, bones = edges (the prior adjacency A is an input, never
  reconstructed); joint coordinates, with Gaussian noise of std `augment.noise` added during
  pretraining, are linearly projected to D (`skelssl.backbones.gin.GIN`);
- body-part masking: `mask.parts` of the body regions are drawn per graph and their joints'
  projected features are replaced by one learnable [MASK] vector (input stays full length);
- encoder: the GIN (`backbone.layers` layers, PReLU); decoder: GIN layers mapping the hidden
  features back to the target dimension on all nodes: the paper's **one** layer where that reaches
  every masked joint (`decoder_layers: auto`; see "Reach" below), else as many as needed;
- loss: GraphMAE's scaled cosine error on the masked nodes, L = mean_i∈M (1 − cos(x_i, z_i))^β,
  β = `sce_beta` (2). methods.md §3.3 transcribes the paper's formula as Σ_i∈M (1/|M| − cos/|M|)^β,
  which equals |M|^(1−β) times this mean: the same loss up to a factor that only depends on how
  many joints are masked. We use GraphMAE's (normalised) mean, whose scale does not change with the
  batch size;
- optimiser: Adam at the paper's lr 1.5e-4, also in the CPU default (paper preset: batch 1024,
  50 epochs).

Data: the paper uses 2D COCO-17 HRNet poses with 6 body regions; here the method runs on any
layout of `skelssl.skeleton.LAYOUTS` (3D NTU-25 by default) with the layout's `parts` as the body
regions (NTU-25: the same 6 regions, head 2 joints, torso 7 with shoulders and hips as COCO's,
arms 5 each (elbow to hand tip and thumb), legs 3 each; `skelssl.skeleton.NTU25`).

Reach (measured with `skelssl.masking.body_parts.masked_reach`, tests/test_skeletonmae_graph.py):
the 3 encoder + 1 decoder GIN layers of the paper pass messages 4 hops, and a masked joint farther
than that from every visible joint gets a prediction that cannot depend on the input. On the
paper's COCO-17 regions every masked joint is within 4 hops for any 1, 2 or 3 masked parts, so the
paper's depths suffice there. On NTU-25 the limbs are longer chains (hands and feet): with 2 of
the 6 parts masked, 11 of the 15 pairs leave a masked joint 5–7 hops away (an arm alone: its hand
tip, 5; torso + arm: 7; torso + leg: the foot, 6); on Kinect-20, 2 pairs (torso + leg: 6). We keep
the paper's regions, part count and encoder depth and deepen only the decoder:
`decoder_layers: auto` takes the fewest layers (at least 1) with encoder + decoder hops ≥ the
largest reach over every draw of `mask.parts` parts (`decoder_depth`): 1 on COCO-17, OpenNI-15 and
Penn-13, 4 on NTU-25, 3 on Kinect-20 (3 encoder layers, 2 parts). An integer sets it outright (1
= the paper's decoder, whatever the reach). Extra decoder layers are hidden → hidden GIN layers
followed by LayerNorm → PReLU, as the encoder's; the last one maps to the target, no activation.

*Unverified* choices of ours:
- target: the paper reconstructs the joint *features* X. X is the output of a learnable projection,
  and reconstructing it collapses: with a stop-gradient copy of the projection as target, the
  targets of all joints turned parallel within 15 CPU epochs (`target_var` 0.004) and the linear
  probe fell 5 points below a random encoder. We reconstruct the joint features *before* the
  projection: the clean (noise-free) coordinates re-centred per frame on the mean of the frame's
  joints, so the cosine compares each joint's direction from the body's centre (a fixed,
  non-learnable target). The first-frame-centred coordinates the data arrive in are dominated by
  each joint's height and probed 4 points worse; bone vectors (joint − parent) probed 4–8 worse;
- collapse diagnostics: `target_var` and `pred_var` = total variance of the unit target / prediction
  vectors over the masked joints (1 − ‖mean direction‖², 0 when all point the same way), and
  `emb_std` / `emb_norm_std` of the encoder's node codes averaged per frame (`embedding_spread`, as
  every method logs them);
- decoding path: GraphMAE's bias-free Linear (hidden → hidden) before the GIN decoder, but
  *not* GraphMAE's "re-masking" (zeroing the masked nodes' codes before the decoder). With body-part
  masking most masked joints have only masked neighbours, so after re-masking a 1-hop decoder sees
  zeros around them and predicts a constant (measured: loss stuck at 0.95 against 0.41 without);
- graphs: every present frame of every present person is a graph (all-zero persons and frames give
  no graph and no loss term); the paper's batch of 1024 is read as 1024 *sequences*, i.e. all their
  frames (whether the paper batches sequences or single frames is unverified);
- the noise is added to the encoder input only (the target is clean): a denoising reading of "pixel
  noise is added to joints during training";
- the mask token is initialised to zero (GraphMAE's enc_mask_token) and not weight-decayed.

Known limits, measured on the embedded CPU data (NTU-25, T = 32, xsub), with the one-layer decoder
the method had before `decoder_layers` (the numbers below predate the deeper decoder):
- against earlier, coarser regions (an arm from shoulder to thumb), the paper-like regions (COCO
  puts shoulders and hips in the torso) lowered the loss from 0.41 to 0.29; even so the 3 + 1 GIN
  hops left masked hand tips and feet unreachable (see "Reach"), which the deeper decoder fixes;
- a single frame leaves a masked limb largely ambiguous: a *frozen random* encoder with a trained
  decoder reaches almost the same loss (0.43 vs 0.41 after 15 epochs), so the pretext gives the
  encoder little to learn, and the pretrained GIN's linear probe stays within a few points of a
  random-init GIN with the same readout. The margin depends on the seed: over seeds 0, 1, 2
  (docs/benchmarks.md) the CPU default with lr 1e-3 probed 0.8 points *below* random init on
  average, with the paper's lr 1.5e-4 1.6 points above (+3.0, −1.2, +2.8); longer pretraining at
  lr 1e-3 probed worse (60 epochs: 83.8 vs 85.6).

On small real datasets (issue 13; measured, docs/real-data-tuning.md, committed CPU defaults,
200-epoch probe, seed 0, MSR Action3D validation split): the random-init GIN twin scores 72.0, the
strongest twin of all methods; the pretrained encoder 65.3 (lr 1e-3 and 100 epochs: 72.0, though
its loss halves, 0.120 → 0.064); kNN +5.0. Per-frame GIN features of aligned, scaled coordinates
are already as separable as what the reconstruction pretext adds on 173 clips. What the pretext
asks for there, measured (benchmarks/real/pretext_baselines.py, the method's loss on held-out
validation frames, seeds 0 and 1): on MSR Action3D and UTD-MHAD the target is mostly which joint
is masked. A constant direction per joint, with no input at all, scores 0.031–0.041, a linear map
of the visible pose 0.021, the pretrained model 0.088–0.108 and the same init with its encoder
frozen (only the decoder trained) 0.119–0.151: what the model still gets wrong is mainly the
masked joints' identity, which the nodes do not carry (every masked node holds the same [MASK]
vector). A learnable per-joint embedding (benchmarks/real/gin_joint_embedding.py, a study, not a
setting: it is not in the paper) brings the loss to 0.039 and raises the probe of both encoders,
so the gap stays small (3 seeds: +1.4 ± 2.6 MSR, 0.0 ± 1.9 UTD-MHAD). On Penn Action (2D) the pose
matters more (constant 0.357, pose map 0.139, pretrained 0.305–0.324, frozen 0.624–0.664) and the
gap is still +0.2. On the test splits
(docs/report-real, 3 seeds) the gap is −3.5 (MSR), −1.6 (UTD-MHAD), +1.0 (Penn Action), and on
the validation splits (3 seeds each) −0.9 ± 6.4, −4.3 ± 7.9 and +0.2 ± 1.6; the GIN,
pretrained or random, gives the best linear probe on every dataset. Fine-tuning uses
`evaluate.finetune.gin` (AdamW lr 3e-3, our CPU default; the paper preset keeps STRL's SGD): with
the transformer recipe at 15 epochs the benchmark's fine-tune / scratch columns sat at 25–33% on
MSR/UTD (under-training); GIN + STRL from scratch reaches 55% on MSR's validation split with AdamW
lr 3e-3 at 50 epochs, while STRL's published SGD lr 0.1 diverges or learns nothing there
(docs/real-data-tuning.md, "Third session"). How high the bar is (benchmarks/real/supervised_ceiling.py,
"Twentieth session"): this GIN trained *with the labels* on the same fit clips (a Linear on its
pooled embedding), then probed like a pretrained encoder, scores what its random twin does:
gap −0.3 ± 1.3 / +0.0 ± 4.7 on MSR Action3D (50 / 200 epochs, 3 seeds), −2.2 ± 5.1 / −2.8 ± 4.7
on UTD-MHAD, 0.0 ± 0.5 on Penn Action (3 seeds each), while the classifier itself reaches 67–92% and kNN
rises 16–17 points on MSR. The random GIN's pooled per-frame features are already as linearly
separable as this embedding gets, so no pretext can clear +10 under this probe; the committed
gaps sit at that ceiling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from skelssl.backbones.gin import GIN, GINLayer
from skelssl.config import SkeletonMAEGraphParams
from skelssl.masking.body_parts import body_part_mask, max_masked_reach
from skelssl.methods.base import Batch, Method, StepOutput, embedding_spread
from skelssl.skeleton import Layout


def sce_loss(pred: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """Scaled cosine error (GraphMAE): mean over rows of (1 − cos(pred_i, target_i))^β."""
    cos = (F.normalize(pred.float(), dim=-1) * F.normalize(target.float(), dim=-1)).sum(dim=-1)
    return (1.0 - cos).pow(beta).mean()


def present_frames(x: torch.Tensor) -> torch.Tensor:
    """(N, M, T, V, C) → the non-zero frames of every person, (B, V, C)."""
    frames = x.flatten(0, 2)
    return frames[frames.flatten(1).abs().amax(dim=1) > 0]


def centred_target(clean: torch.Tensor) -> torch.Tensor:
    """Clean coordinates (B, V, C) re-centred per graph on the mean of its joints."""
    return clean - clean.mean(dim=1, keepdim=True)


def decoder_depth(cfg: SkeletonMAEGraphParams, layout: Layout) -> int:
    """`cfg.decoder_layers`, or for `auto` the fewest GIN layers (>= 1, the paper's one) with encoder
    + decoder hops >= the largest reach of a masked joint over every draw of `mask.parts` parts."""
    if cfg.decoder_layers != "auto":
        return cfg.decoder_layers
    if not 1 <= cfg.mask.parts < len(layout.parts):
        raise ValueError(f"mask.parts must be in [1, {len(layout.parts) - 1}] for layout {layout.name} "
                         f"with decoder_layers: auto (some joint must stay visible), got {cfg.mask.parts}")
    reach = int(max_masked_reach(layout, cfg.mask.parts))
    return max(1, reach - cfg.backbone.layers)


class GINDecoder(nn.Module):
    """`layers` GIN layers, hidden → … → out_dim: all but the last followed by LayerNorm → PReLU
    (the encoder's layout), the last one linear (GraphMAE's decoder)."""

    def __init__(self, hidden: int, out_dim: int, layers: int) -> None:
        super().__init__()
        dims = [hidden] * layers + [out_dim]
        self.layers = nn.ModuleList(GINLayer(dims[i], hidden, dims[i + 1]) for i in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers - 1))
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(layers - 1))

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            h = layer(h, adj)
            if i < len(self.norms):
                h = self.acts[i](self.norms[i](h))
        return h


class SkeletonMAEGraph(Method):
    def __init__(self, cfg: SkeletonMAEGraphParams, layout: Layout, frames: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.layout = layout
        self.encoder = GIN(cfg.backbone, layout, frames)
        hidden = cfg.backbone.hidden
        self.mask_token = nn.Parameter(torch.zeros(cfg.backbone.dim))
        self.encoder_to_decoder = nn.Linear(hidden, hidden, bias=False)
        self.decoder = GINDecoder(hidden, self.encoder.channels, decoder_depth(cfg, layout))

    def reconstruct(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Coordinates (B, V, C) and body-part mask (B, V) → (node codes (B, V, hidden), the
        decoder's prediction of every joint's target (B, V, C)): the masked joints' projected
        features replaced by the [MASK] vector, encoded, mapped and decoded."""
        features = self.encoder.embed(frames)
        features = torch.where(mask.unsqueeze(-1), self.mask_token.to(features.dtype), features)
        nodes = self.encoder.encode_nodes(features)
        return nodes, self.decoder(self.encoder_to_decoder(nodes), self.encoder.adj)

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        clean = present_frames(batch.x)  # (B, V, C): every non-zero frame of every person
        if clean.shape[0] == 0:  # nobody present: no graph, no loss term
            zero = self.mask_token.sum() * 0.0
            return StepOutput(zero, {"target_var": 0.0, "pred_var": 0.0, "emb_std": 0.0, "emb_norm_std": 0.0,
                                     "masked_pct": 0.0, "graphs": 0.0})
        noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
        noisy = clean + self.cfg.augment.noise * noise
        mask = body_part_mask(clean.shape[0], self.layout, self.cfg.mask.parts, generator, clean.device)
        nodes, recon = self.reconstruct(noisy, mask)
        pred_m, target_m = recon[mask].float(), centred_target(clean)[mask].float()
        loss = sce_loss(pred_m, target_m, self.cfg.sce_beta)
        with torch.no_grad():
            logs = {
                "target_var": F.normalize(target_m, dim=-1).var(dim=0).sum().item(),
                "pred_var": F.normalize(pred_m, dim=-1).var(dim=0).sum().item(),
                **embedding_spread(nodes.mean(dim=1)),  # the masked graph's encoding, per frame
                "masked_pct": 100.0 * mask.float().mean().item(),
                "graphs": float(clean.shape[0]),
            }
        return StepOutput(loss, logs)
