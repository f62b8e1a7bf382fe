"""`Linear`: nn.Linear whose fp32 CPU matmuls run on oneDNN instead of the BLAS.

Why: torch's CPU `F.linear` calls MKL's sgemm, which on AMD CPUs does not use its AVX-512
kernels; oneDNN (bundled with torch, used for its convolutions) does. Measured on the project's
2-core AMD EPYC (AVX-512), fp32, (24000 × 256) @ (256 × 768): 140 GFLOP/s through `F.linear`,
237 GFLOP/s through oneDNN (benchmarks in docs/benchmarks.md). Same math (an fp32 GEMM); only the
summation order, hence the last bits, differ.

The forward product and the input gradient (grad_y @ W: the same kind of product, with the
transposed weight passed as a strided view, no copy) go to oneDNN
(`torch.ops.mkldnn._linear_pointwise`, the op torch's own compiler emits for CPU linears). The
weight gradient grad_yᵀ @ x goes to oneDNN when the rows are few next to the weight (PSTL's
6144 × 6144 projector on 128 rows: 120 instead of 165 ms per product on one thread) and stays on
`torch.mm` for long reductions over many rows (the ST-GCN graph convolutions), where MKL is
faster. Anything else (CUDA, bf16 autocast, non-fp32 dtypes, a torch without the op, or
`SKELSSL_ONEDNN_LINEAR=0` in the environment) takes plain `F.linear`. The parameters and their
names are nn.Linear's, so checkpoints are interchangeable.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn


def _onednn_available() -> bool:
    if os.environ.get("SKELSSL_ONEDNN_LINEAR", "1") == "0":
        return False
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


ONEDNN = _onednn_available()


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (M, K) @ weight (N, K)ᵀ + bias, on oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x2 = x.reshape(-1, x.shape[-1]).contiguous()
        ctx.save_for_backward(x2, weight)
        ctx.has_bias = bias is not None
        ctx.in_shape = x.shape
        return _onednn_linear(x2, weight, bias).view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x2, weight = ctx.saved_tensors
        g2 = grad.reshape(-1, grad.shape[-1]).contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn_linear(g2, weight.t(), None).view(ctx.in_shape)
        if ctx.needs_input_grad[1]:
            if g2.shape[0] <= max(weight.shape):  # few rows, big weight: oneDNN
                grad_w = _onednn_linear(g2.t().contiguous(), x2.t(), None)
            else:  # a long reduction over the rows: MKL
                grad_w = g2.t().mm(x2)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(dim=0)
        return grad_x, grad_w, grad_b


def use_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Not while tracing (`skelssl export`): a TorchScript model keeps plain `F.linear`, which any
    torch runs (the private oneDNN op does not trace)."""
    return (ONEDNN and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and x.numel() > 0 and not torch.is_autocast_enabled("cpu") and not torch.jit.is_tracing())


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear, on oneDNN for fp32 CPU tensors outside autocast."""
    if use_onednn(x, weight):
        return _OneDNNLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """nn.Linear (same parameters, init and state-dict keys) with the oneDNN fp32 CPU path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
