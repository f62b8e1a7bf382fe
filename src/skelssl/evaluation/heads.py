"""Classifiers for end-to-end training: backbone name → builder(encoder, classes, drop_path, persons).

Every classifier maps (N, M, T, V, C) → logits (N, classes), holds its own copy of the encoder (the
one passed in is never modified) and tells the optimiser each parameter's layer for layer-wise lr
decay (`layer_id`, `num_layers`; 0 layers = no decay).

- transformer → the MAMP fine-tuning head (methods.md §1.5): the encoder's final-LN tokens,
  dropout, mean over time, the V joint features concatenated (V·D), mean over persons, then
  Linear(V·D → 2048) → BatchNorm1d → ReLU → Linear(2048 → classes). Stochastic depth rises
  linearly over the blocks from 0 to `drop_path` (MAMP: 0.3). Layer ids as in MAMP/MAE: patch and
  positional embeddings 0, block i → i + 1, the final norm and the head depth + 1.
- stgcn → a Linear on the pooled encoder output (PSTL fine-tuning, §5.5).
- gin → the STRL model (`skelssl.backbones.strl`, §3.5), built from the GIN.

*Unverified* choices of ours: the head dropout (0.3) and hidden width (2048) are fixed module
constants taken from MAMP's config rather than params; the MAMP head's Linear layers get the
transformer's xavier-uniform initialisation; `drop_path` is ignored by ST-GCN and GIN (ST-GCN keeps
its own `dropout`, STRL its default).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from skelssl.backbones.gin import GIN
from skelssl.backbones.strl import STRL
from skelssl.backbones.transformer import DropPath, SkeletonTransformer, init_weights

HEAD_DROPOUT = 0.3  # MAMP finetune config
HEAD_HIDDEN = 2048  # MAMP finetune head width


class Classifier(nn.Module):
    """Encoder + head. Subclasses with layer-wise lr decay override `num_layers` and `layer_id`."""

    num_layers = 0

    def layer_id(self, name: str) -> int:
        return 0


class TransformerClassifier(Classifier):
    def __init__(self, encoder: SkeletonTransformer, classes: int, drop_path: float) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        rates = torch.linspace(0, drop_path, len(self.encoder.blocks)).tolist()
        for block, rate in zip(self.encoder.blocks, rates, strict=True):
            block.drop_path = DropPath(rate)
        joints_dim = self.encoder.num_joints * self.encoder.dim
        self.dropout = nn.Dropout(HEAD_DROPOUT)
        self.head = nn.Sequential(nn.Linear(joints_dim, HEAD_HIDDEN), nn.BatchNorm1d(HEAD_HIDDEN),
                                  nn.ReLU(), nn.Linear(HEAD_HIDDEN, classes))
        self.head.apply(init_weights)
        self.num_layers = len(self.encoder.blocks) + 1  # the head's id; embeddings 0, blocks 1..depth

    def layer_id(self, name: str) -> int:
        if name.startswith(("encoder.patch_embed", "encoder.pos_")):
            return 0
        if name.startswith("encoder.blocks."):
            return int(name.split(".")[2]) + 1
        return self.num_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        enc = self.encoder
        tokens, _ = enc.forward_tokens(x.flatten(0, 1))  # (N·M, segments·V, D), segment-major
        tokens = self.dropout(tokens).view(n, m, enc.segments, enc.num_joints, enc.dim)
        features = tokens.mean(dim=2).flatten(2).mean(dim=1)  # time, then concat joints, then persons
        return self.head(features)


class PooledClassifier(Classifier):
    """Linear on the encoder's pooled (N, out_dim) embedding."""

    def __init__(self, encoder: nn.Module, classes: int) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        self.head = nn.Linear(encoder.out_dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class GraphClassifier(Classifier):
    """The STRL model on a GIN (STRL copies the encoder's weights itself)."""

    def __init__(self, encoder: GIN, classes: int, persons: int) -> None:
        super().__init__()
        self.model = STRL(encoder, classes, persons=persons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


Builder = Callable[[nn.Module, int, float, int], Classifier]

HEADS: dict[str, Builder] = {
    "transformer": lambda enc, classes, drop_path, persons: TransformerClassifier(enc, classes, drop_path),
    "stgcn": lambda enc, classes, drop_path, persons: PooledClassifier(enc, classes),
    "gin": lambda enc, classes, drop_path, persons: GraphClassifier(enc, classes, persons),
}


def build_classifier(backbone: str, encoder: nn.Module, classes: int, drop_path: float,
                     persons: int) -> Classifier:
    if backbone not in HEADS:
        raise ValueError(f"no fine-tuning head for backbone {backbone!r} (known: {sorted(HEADS)})")
    return HEADS[backbone](encoder, classes, drop_path, persons)
