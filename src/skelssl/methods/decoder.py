"""The light MAE-style decoder shared by the transformer methods (MAMP, SkeletonMAE-ST, Skeleton2vec)."""

from __future__ import annotations

import torch
from torch import nn

from skelssl.backbones.linear import Linear
from skelssl.backbones.transformer import Block, init_weights
from skelssl.config import DecoderParams
from skelssl.masking import Mask


class TokenDecoder(nn.Module):
    """Fills masked positions with a learned token and decodes the full token grid."""

    def __init__(self, cfg: DecoderParams, in_dim: int, out_dim: int, segments: int, joints: int,
                 layer_scale: float = 0.0, drop_path: float = 0.0) -> None:
        """layer_scale / drop_path: as the encoder's (`Block`); 0 = off (MAMP). Skeleton2vec's dev
        code builds its decoder blocks with the encoder's LayerScale init and drop-path rate."""
        super().__init__()
        self.segments, self.joints = segments, joints
        self.embed = Linear(in_dim, cfg.dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_spatial = nn.Parameter(torch.zeros(1, 1, joints, cfg.dim))
        self.pos_temporal = nn.Parameter(torch.zeros(1, segments, 1, cfg.dim))
        rates = torch.linspace(0, drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, 4.0, layer_scale, rate) for rate in rates)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = Linear(cfg.dim, out_dim)
        self.apply(init_weights)
        for p in (self.mask_token, self.pos_spatial, self.pos_temporal):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, visible: torch.Tensor, mask: Mask) -> torch.Tensor:
        b, num_tokens = mask.masked.shape
        vis = self.embed(visible)
        full = self.mask_token.to(vis.dtype).expand(b, num_tokens, -1).clone()
        full.scatter_(1, mask.ids_keep.unsqueeze(-1).expand(-1, -1, vis.shape[-1]), vis)
        pos = (self.pos_spatial + self.pos_temporal).flatten(1, 2)
        tokens = full + pos
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens))
