"""Spatio-temporal skeleton transformer (the MAMP / Skeleton2vec encoder family, methods.md §1.1, §2.1).

Tokens are (temporal segment × joint): a Conv2d with kernel = stride = (t_patch, 1) embeds each
joint's `t_patch`-frame trajectory; learned spatial (1, 1, V, D) and temporal (1, T/t_patch, 1, D)
positional embeddings are added (factorised); pre-LN blocks with fused attention
(`scaled_dot_product_attention`, no attention dropout: it would switch SDPA to its slow path);
optional LayerScale (Skeleton2vec) and stochastic depth; a final LayerNorm.

Persons are flattened into the batch (N·M independent sequences), as MAMP does.

LayerNorm eps is 1e-6 for every method (Skeleton2vec's dev code); MAMP, and its `model_mae`
baseline (the SkeletonMAE-ST proxy), use PyTorch's default 1e-5: a documented deviation
(`skelssl.methods.mamp` docstring).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from skelssl.backbones.linear import Linear
from skelssl.config import TransformerParams
from skelssl.skeleton import Layout


class DropPath(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.ndim - 1)), device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = Linear(dim, dim * 3, bias=True)
        self.proj = Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-LN transformer block: x + γ₁·Attn(LN x), then x + γ₂·MLP(LN x)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, layer_scale: float = 0.0,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(Linear(dim, hidden), nn.GELU(), Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)
        if layer_scale > 0:
            self.gamma1 = nn.Parameter(torch.full((dim,), layer_scale))
            self.gamma2 = nn.Parameter(torch.full((dim,), layer_scale))
        else:
            self.gamma1 = self.gamma2 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.norm1(x))
        x = x + self.drop_path(a if self.gamma1 is None else self.gamma1 * a)
        m = self.mlp(self.norm2(x))
        return x + self.drop_path(m if self.gamma2 is None else self.gamma2 * m)


def init_weights(module: nn.Module) -> None:
    """xavier-uniform Linear weights, zero biases, unit LayerNorm (MAE/MAMP initialisation)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def trunc_normal_init(module: nn.Module, std: float = 0.02) -> None:
    """trunc-normal(std) Linear and Conv2d weights, zero biases, unit LayerNorm (the Skeleton2vec
    dev code's `Skeleton2Vec2._init_weights`, applied to the whole auto-encoder). Parameters that
    are not module weights (positional embeddings, mask token, LayerScale) are left as they are."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class SkeletonTransformer(nn.Module):
    """Encoder over (segment × joint) tokens. Canonical input layout: (N, M, T, V, C)."""

    def __init__(self, cfg: TransformerParams, layout: Layout, frames: int, channels: int | None = None) -> None:
        super().__init__()
        num_joints = layout.num_joints
        channels = layout.channels if channels is None else channels  # 3D skeletons: 3, 2D keypoints: 2
        if frames % cfg.t_patch:
            raise ValueError(f"frames ({frames}) must be divisible by t_patch ({cfg.t_patch})")
        self.cfg = cfg
        self.num_joints, self.frames, self.channels = num_joints, frames, channels
        self.segments = frames // cfg.t_patch
        self.dim = self.out_dim = cfg.dim
        self.patch_embed = nn.Conv2d(channels, cfg.dim, kernel_size=(cfg.t_patch, 1),
                                     stride=(cfg.t_patch, 1))
        self.pos_spatial = nn.Parameter(torch.zeros(1, 1, num_joints, cfg.dim))
        self.pos_temporal = nn.Parameter(torch.zeros(1, self.segments, 1, cfg.dim))
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.layer_scale, rate) for rate in rates
        )
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.apply(init_weights)
        nn.init.trunc_normal_(self.pos_spatial, std=0.02)
        nn.init.trunc_normal_(self.pos_temporal, std=0.02)

    @property
    def num_tokens(self) -> int:
        return self.segments * self.num_joints

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, V, C) → tokens (B, segments·V, D) with positional embeddings, segment-major."""
        tokens = self.patch_embed(x.permute(0, 3, 1, 2))  # (B, D, segments, V)
        tokens = tokens.permute(0, 2, 3, 1) + self.pos_spatial + self.pos_temporal
        return tokens.flatten(1, 2)

    def forward_tokens(self, x: torch.Tensor, ids_keep: torch.Tensor | None = None,
                       return_layers: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode person-flattened sequences x (B, T, V, C).

        ids_keep (B, L_vis): indices of visible tokens; the others are dropped (MAE-style).
        Returns the final-LN tokens and, if asked, each block's output before the final LN.
        """
        tokens = self.embed(x)
        if ids_keep is not None:
            tokens = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        layers: list[torch.Tensor] = []
        for block in self.blocks:
            tokens = block(tokens)
            if return_layers:
                layers.append(tokens)
        return self.norm(tokens), layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, M, T, V, C) → pooled embedding (N, D): mean over tokens, then over persons."""
        n, m = x.shape[:2]
        tokens, _ = self.forward_tokens(x.flatten(0, 1))
        return tokens.mean(dim=1).view(n, m, -1).mean(dim=1)
