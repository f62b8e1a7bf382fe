"""STRL: the graph SkeletonMAE fine-tuning model ("SSL", methods.md §3.5), built on a pretrained GIN.

Paper facts followed: each STRL layer holds pretrained SkeletonMAE encoders, one per person (P = 2);
the sequence features get a learnable temporal position embedding; spatial modelling
SM(H) = Repeat_V(SumPool(G_E(Ã, H))) ⊕ H broadcasts the sum-pooled graph feature of every frame
back to the joints and fuses it with H; a 1×1 convolution residual; H^{l+1} = ReLU(SM(H^l)·W^l);
M = 3 STRL layers best; then multi-scale temporal pooling (CTR-GCN style) and an MLP classifier
trained with cross-entropy (the training recipe lives in the fine-tuning protocol, not here).

*Unverified* choices of ours (the paper's text is all there is; no code was released):
- H^0 = the pretrained projection (C → D) of the joint coordinates plus the temporal position
  embedding (1, 1, T, 1, D), trunc-normal std 0.02; the embedding is not per joint;
- G_E inside a layer = the pretrained GIN layers (`GIN.encode_nodes`, D → hidden); every STRL layer
  gets its *own* copies initialised from the same pretrained weights, so layers 2..M feed the
  pretrained GIN with features it was not pretrained on;
- per-person encoders: `share_persons=False` (default) gives each person index its own copy
  (literal reading of "two encoders"); `True` shares one copy between persons;
- ⊕ = concatenation along channels, then W^l = Linear(hidden + D → D); the 1×1 conv residual
  (a Linear over channels, i.e. a 1×1 conv on the (T, V) grid) is added before the ReLU:
  H^{l+1} = ReLU([Repeat(SumPool(G_E(H))) ‖ H]·W^l + Conv1×1(H));
- multi-scale temporal pooling: joints are averaged, then a CTR-GCN-like multi-scale temporal
  block (four D/4 branches: kernel-5 convolutions with dilation 1 and 2, a kernel-3 max-pool, a 1×1
  conv; each branch starts with 1×1 conv + BN + ReLU) with a residual, ReLU, then the average over
  frames and over present persons (all-zero persons are left out of the average);
- classifier MLP: Linear(D → D) → ReLU → Dropout → Linear(D → classes).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from skelssl.backbones.gin import GIN


class STRLLayer(nn.Module):
    """One STRL layer on H (N, P, T, V, D) → (N, P, T, V, D)."""

    def __init__(self, encoder: GIN, persons: int, share_persons: bool) -> None:
        super().__init__()
        dim, hidden = encoder.cfg.dim, encoder.hidden
        graph = copy.deepcopy(encoder)
        graph.embed = nn.Identity()  # only the GIN layers act inside the layer (input is already D)
        self.encoders = nn.ModuleList([graph] if share_persons else
                                      [copy.deepcopy(graph) for _ in range(persons)])
        self.fuse = nn.Linear(hidden + dim, dim)  # W^l on SM(H)
        self.residual = nn.Linear(dim, dim)  # the 1×1 conv residual

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n, p, t, v, d = h.shape
        outs = []
        for i in range(p):
            enc = self.encoders[i if len(self.encoders) > 1 else 0]
            outs.append(enc.encode_nodes(h[:, i].reshape(n * t, v, d)).view(n, t, v, -1))
        g = torch.stack(outs, dim=1)  # (N, P, T, V, hidden)
        pooled = g.sum(dim=3, keepdim=True).expand(-1, -1, -1, v, -1)  # Repeat_V(SumPool(·))
        sm = torch.cat([pooled, h], dim=-1)
        return torch.relu(self.fuse(sm) + self.residual(h))


class MultiScaleTemporal(nn.Module):
    """CTR-GCN-like multi-scale temporal block on (B, D, T) → (B, D, T)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 4:
            raise ValueError(f"STRL: GIN dim ({dim}) must be divisible by 4 for the 4 temporal branches")
        b = dim // 4

        def stem() -> list[nn.Module]:
            return [nn.Conv1d(dim, b, 1), nn.BatchNorm1d(b), nn.ReLU()]

        self.branches = nn.ModuleList([
            nn.Sequential(*stem(), nn.Conv1d(b, b, 5, padding=2, dilation=1), nn.BatchNorm1d(b)),
            nn.Sequential(*stem(), nn.Conv1d(b, b, 5, padding=4, dilation=2), nn.BatchNorm1d(b)),
            nn.Sequential(*stem(), nn.MaxPool1d(3, stride=1, padding=1), nn.BatchNorm1d(b)),
            nn.Sequential(nn.Conv1d(dim, b, 1), nn.BatchNorm1d(b)),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(torch.cat([br(x) for br in self.branches], dim=1) + x)


class STRL(nn.Module):
    """Fine-tuning classifier: (N, M, T, V, C) → logits (N, num_classes).

    Built from a (pretrained) GIN encoder; the encoder passed in is copied, never modified.
    """

    def __init__(self, encoder: GIN, num_classes: int, num_layers: int = 3, persons: int = 2,
                 share_persons: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        dim = encoder.cfg.dim
        self.frames, self.persons, self.num_classes = encoder.frames, persons, num_classes
        self.embed = copy.deepcopy(encoder.embed)  # pretrained C → D projection
        self.pos_temporal = nn.Parameter(torch.zeros(1, 1, encoder.frames, 1, dim))
        nn.init.trunc_normal_(self.pos_temporal, std=0.02)
        self.layers = nn.ModuleList(STRLLayer(encoder, persons, share_persons) for _ in range(num_layers))
        self.temporal = MultiScaleTemporal(dim)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, p, t, v, _ = x.shape
        if p != self.persons or t != self.frames:
            raise ValueError(f"STRL expects {self.persons} persons and {self.frames} frames, got {p} and {t}")
        h = self.embed(x) + self.pos_temporal  # (N, P, T, V, D)
        for layer in self.layers:
            h = layer(h)
        seq = self.temporal(h.mean(dim=3).flatten(0, 1).transpose(1, 2))  # (N·P, D, T)
        person = seq.mean(dim=2).view(n, p, -1)
        w = (x.flatten(2).abs().amax(dim=2) > 0).to(person.dtype).unsqueeze(-1)  # (N, P, 1) present
        pooled = (person * w).sum(dim=1) / w.sum(dim=1).clamp_min(1)
        return self.head(pooled)
