"""ST-GCN (Yan et al. 2018) as PSTL uses it: quarter width, "spatial" partition (methods.md §5.1),
by default with PSTL's own distance rule (`cfg.partition` = "reference": max_hop 1, NTU-25 subsets
25 / 40 / 8; "true_distance" is the paper's hop-distance partition; skelssl.backbones.graph).

Follows [PSTL-code] `module/gcn/st_gcn.py`:
- data BatchNorm1d over V·C channels (per person; channel index v·C + c), on all joints;
- 10 units with channels [h, h, h, h, 2h, 2h, 2h, 4h, 4h, hidden_dim] (16…64, 256 at h = 16),
  temporal stride 2 at units 5 and 8; a unit is: 1×1 conv to K·C_out channels, graph aggregation
  with the K = 3 partition matrices (times the unit's learnable edge importance, initialised to
  ones), then BN → ReLU → temporal conv (kernel `temporal_kernel`, zero padding, stride) → BN →
  Dropout, plus a residual (identity, or 1×1 conv (stride) + BN when the shape changes; none in
  unit 1), then ReLU; dropout only in units 2–10;
- output: global average over (T, V), then the mean over the M persons → (N, hidden_dim).
- `forward(x, joints)`: PSTL's central spatial masking. The data BN sees every joint; the joints not
  in `joints` are then removed from the input and from every unit's partition matrices and edge
  importance (rows and columns), without renormalisation.
Choices of ours: persons share one pass (flattened into the batch); the graph convolution
aggregates over joints before projecting the channels (`graph_conv`: the same linear map as the
reference's 1×1 conv + einsum, in the cheaper order); activations are kept channels-last
(memory order B, T, V, C, logical shape B, C, T, V), so the graph conv and 1×1 residuals are GEMMs;
no Dropout module when dropout = 0, and the dropout mask is drawn from random bytes (`keep_mask`:
same distribution as nn.Dropout, faster on CPU); PyTorch's default initialisation (the reference
defines an `init_weights` but never applies it to the encoder).
"""

from __future__ import annotations

import torch
from torch import nn

from skelssl.backbones.graph import spatial_partition, subgraph
from skelssl.backbones.linear import linear
from skelssl.config import STGCNParams
from skelssl.skeleton import Layout


INT64_MIN = -(2**63)


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Boolean mask shaped and strided like x, each entry True with probability 1 − p, drawn from
    the global RNG.

    When p·256 is an integer k (PSTL's p = 0.5: k = 128) and x is dense, every entry uses one byte
    of full-range random 64-bit words and is kept when the byte is ≥ k: bytes of uniform words are
    independent and uniform on 0…255, so this is the exact Bernoulli(1 − p), with one generator
    call per 8 entries (measured 4.6× faster than `rand_like` on CPU). Otherwise, entry-wise
    uniforms: `rand_like(x) ≥ p`.
    """
    k = p * 256
    dense = x.is_contiguous() or (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last))
    if k != int(k) or not dense:
        return torch.rand_like(x) >= p
    n = x.numel()
    words = torch.empty((n + 7) // 8, dtype=torch.int64, device=x.device).random_(INT64_MIN, None)
    keep = words.view(torch.uint8)[:n] >= int(k)
    return keep.as_strided(x.shape, x.stride())  # memory order of x (channels-last or not)


class Dropout(nn.Module):
    """Inverted dropout (zero with probability p, scale the rest by 1/(1−p)), as nn.Dropout, with
    the mask from `keep_mask`: the same distribution, cheaper to draw on CPU than with the
    Bernoulli sampler nn.Dropout uses (benchmarks in docs/benchmarks.md), and laid out like the
    input. Global RNG, like nn.Dropout."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * keep_mask(x, self.p).to(x.dtype).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def graph_conv(x: torch.Tensor, a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
               ) -> torch.Tensor:
    """ST-GCN's spatial graph convolution Σ_k (W_k x + b_k) A_k, aggregating first, channels-last.

    x (B, C_in, T, V), any memory format; a (K, V, W) = partition ⊙ edge importance; weight
    (K·C_out, C_in, 1, 1) and bias (K·C_out) are the reference's 1×1 conv (subset-major output
    channels). Returns (B, C_out, T, W) with channels-last strides (memory order B, T, W, C).
    The reference projects to K·C_out channels, then aggregates each subset over the joints. Both
    maps are linear, so this aggregates the C_in input channels first — A (W·K, V) times each
    frame's (V, C_in) joints — and then projects all K subsets at once, one GEMM
    (B·T·W, K·C_in) @ (K·C_in, C_out) that sums over k; the bias becomes Σ_k b_k · Σ_v a[k, v, w].
    The same function (tested against the reference order), with K·C_in instead of K·C_out
    intermediate channels, and plain GEMMs instead of 1×1 convolutions over NCHW tensors.
    """
    b, c_in, t, v = x.shape
    k, _, w = a.shape
    c_out = weight.shape[0] // k
    frames = x.permute(0, 2, 3, 1).reshape(b * t, v, c_in)  # a free view for channels-last x
    columns_from_joints = a.permute(2, 0, 1).reshape(w * k, v)  # row w·K + k = a[k, :, w]
    aggregated = torch.bmm(columns_from_joints.expand(b * t, -1, -1), frames)  # (B·T, W·K, C_in)
    projection = weight.view(k, c_out, c_in).transpose(0, 1).reshape(c_out, k * c_in)
    y = linear(aggregated.view(b * t * w, k * c_in), projection).view(b, t, w, c_out)
    if bias is not None:
        y = y + a.sum(dim=1).T @ bias.view(k, c_out)  # (W, C_out)
    return y.permute(0, 3, 1, 2)


def pointwise_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """`conv` (1×1 kernel, stride (s, 1)) on x (B, C_in, T, V) as one GEMM over the channels;
    the result has channels-last strides. The same function as conv(x)."""
    rows = x.permute(0, 2, 3, 1)[:, :: conv.stride[0]]  # (B, T', V, C_in); sliced channels-last,
    # so that the slice's gradient is channels-last too (mixed layouts make elementwise ops slow)
    return linear(rows, conv.weight.flatten(1), conv.bias).permute(0, 3, 1, 2)


class STGCNUnit(nn.Module):
    """Spatial graph conv (K subsets) + temporal conv, with residual. Input (B, C, T, V).

    Activations flow channels-last (memory order B, T, V, C): the graph convolution and the 1×1
    residual are then plain GEMMs, and the temporal convolution runs on oneDNN's native
    channels-last path. On CPU this makes a unit 1.2–1.8× faster than NCHW (docs/benchmarks.md).
    """

    def __init__(self, c_in: int, c_out: int, subsets: int, kernel: int, stride: int,
                 dropout: float, residual: bool) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"temporal_kernel must be odd, got {kernel}")
        self.c_out = c_out
        self.gcn = nn.Conv2d(c_in, c_out * subsets, kernel_size=1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0)),
            nn.BatchNorm2d(c_out),
            Dropout(dropout) if dropout > 0 else nn.Identity(),
        )
        if not residual:
            self.residual: nn.Module | None = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=1, stride=(stride, 1)),
                                          nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, T, V); a (K, V, V) = partition ⊙ edge importance, [source, target].
        Returns (B, C_out, T', V) with channels-last strides."""
        y = self.tcn(graph_conv(x, a, self.gcn.weight, self.gcn.bias))
        if isinstance(self.residual, nn.Sequential):  # 1×1 conv (stride) + BN
            conv, norm = self.residual
            y = y + norm(pointwise_conv(x, conv))
        elif self.residual is not None:  # identity
            y = y + x
        return self.relu(y)


class STGCN(nn.Module):
    """ST-GCN encoder. Canonical input layout (N, M, T, V, C) → (N, hidden_dim)."""

    def __init__(self, cfg: STGCNParams, layout: Layout, frames: int, channels: int | None = None) -> None:
        super().__init__()
        channels = layout.channels if channels is None else channels  # 3D skeletons: 3, 2D keypoints: 2
        self.cfg = cfg
        self.num_joints, self.frames, self.channels = layout.num_joints, frames, channels
        self.out_dim = cfg.hidden_dim
        # rebuilt from the layout and cfg.partition (PSTL's code: "reference")
        self.register_buffer("A", spatial_partition(layout, cfg.partition), persistent=False)
        k = self.A.shape[0]
        h = cfg.hidden_channels
        widths = [channels, h, h, h, h, 2 * h, 2 * h, 2 * h, 4 * h, 4 * h, cfg.hidden_dim]
        strides = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
        self.data_bn = nn.BatchNorm1d(channels * layout.num_joints)
        self.units = nn.ModuleList(
            STGCNUnit(widths[i], widths[i + 1], k, cfg.temporal_kernel, strides[i],
                      dropout=0.0 if i == 0 else cfg.dropout, residual=i > 0)
            for i in range(len(strides))
        )
        if cfg.edge_importance:
            self.edge_importance = nn.ParameterList(
                nn.Parameter(torch.ones_like(self.A)) for _ in self.units
            )
        else:
            self.edge_importance = None

    def forward(self, x: torch.Tensor, joints: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, M, T, V, C) with all V joints; `joints`: sorted indices of the joints kept."""
        n, m, t, v, c = x.shape
        x = x.permute(0, 1, 3, 4, 2).reshape(n * m, v * c, t)  # channel index v·C + c
        x = self.data_bn(x).view(n * m, v, c, t).permute(0, 2, 3, 1)  # (B, C, T, V)
        if joints is not None:
            x = x.index_select(3, joints)
        a = subgraph(self.A, joints)
        for i, unit in enumerate(self.units):
            importance = 1.0 if self.edge_importance is None else subgraph(self.edge_importance[i], joints)
            x = unit(x, a * importance)
        pooled = x.permute(0, 2, 3, 1).flatten(1, 2).mean(dim=1)  # over (T, V); channels-last gradient
        return pooled.view(n, m, -1).mean(dim=1)
