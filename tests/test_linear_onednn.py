"""skelssl.backbones.linear: the oneDNN fp32 path computes F.linear (values and gradients)."""

import pytest
import torch
import torch.nn.functional as F

from skelssl.backbones import linear as onednn
from skelssl.backbones.linear import Linear, linear


@pytest.mark.skipif(not onednn.ONEDNN, reason="this torch has no oneDNN linear op")
@pytest.mark.parametrize("shape, out, bias", [((300, 24), 48, True),     # many rows: MKL weight gradient
                                              ((3, 5, 16), 40, False),   # few rows: oneDNN weight gradient
                                              ((2, 3, 4, 64), 64, True)])
def test_onednn_linear_matches_f_linear_in_value_and_gradients(shape, out, bias):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=gen, requires_grad=True)
    w = torch.randn(out, shape[-1], generator=gen, requires_grad=True)
    b = torch.randn(out, generator=gen, requires_grad=True) if bias else None
    assert onednn.use_onednn(x, w)
    y = linear(x, w, b)
    assert y.grad_fn is not None and "OneDNN" in type(y.grad_fn).__name__  # the oneDNN path ran
    grad = torch.randn(y.shape, generator=gen)
    got = torch.autograd.grad(y, [t for t in (x, w, b) if t is not None], grad)
    y_ref = F.linear(x, w, b)
    want = torch.autograd.grad(y_ref, [t for t in (x, w, b) if t is not None], grad)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-4)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-4)


def test_linear_module_keeps_nn_linear_parameters_and_falls_back_outside_fp32_cpu():
    torch.manual_seed(0)
    layer = Linear(8, 4)
    assert isinstance(layer, torch.nn.Linear)
    assert set(layer.state_dict()) == {"weight", "bias"}
    x = torch.randn(6, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not onednn.use_onednn(x, layer.weight)
        y = layer(x)
    assert y.dtype == torch.bfloat16  # autocast's bf16 linear, not the fp32 oneDNN path
    assert not onednn.use_onednn(x.double(), layer.weight.double())
    torch.testing.assert_close(layer.double()(x.double()), F.linear(x.double(), layer.weight, layer.bias))


def test_onednn_linear_is_deterministic():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(300, 64, generator=gen)
    w = torch.randn(96, 64, generator=gen)
    assert torch.equal(linear(x, w), linear(x, w))
