import pytest
import torch

from helpers import default_params
from skelssl.backbones.gin import GIN, GINLayer
from skelssl.backbones.graph import adjacency
from skelssl.backbones.strl import STRL
from skelssl.config import GINParams
from skelssl.skeleton import LAYOUTS, NTU25, Layout

PATH3 = Layout(name="path3", joint_names=("a", "b", "c"), bones=((1, 0), (2, 1)), center=0,
               graph_center=1, parts={"head": (0,), "body": (1, 2)})


def tiny_gin(**over) -> GINParams:
    base = default_params().methods.skeletonmae_graph.backbone.model_dump()
    base.update(dim=8, hidden=12, layers=2, **over)
    return GINParams.model_validate(base)


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=lambda lay: lay.name)
def test_shapes_for_every_layout(layout):
    torch.manual_seed(0)
    gin = GIN(tiny_gin(), layout, frames=4)
    v = layout.num_joints
    x = torch.randn(3, 2, 4, v, layout.channels)
    out = gin(x)
    assert out.shape == (3, gin.out_dim) and gin.out_dim == 48 and torch.isfinite(out).all()
    assert gin.encode_nodes(torch.randn(5, v, 8)).shape == (5, v, 12)
    assert gin.adj.shape == (v, v) and torch.equal(gin.adj, gin.adj.T) and gin.adj.diagonal().sum() == 0
    assert gin.adj.sum() == 2 * len(layout.bones)


def test_gin_layer_sums_neighbours_exactly_on_a_path():
    adj = adjacency(PATH3, self_links=False)
    assert torch.equal(adj, torch.tensor([[0., 1, 0], [1, 0, 1], [0, 1, 0]]))
    layer = GINLayer(1, 4, 1)
    layer.mlp = torch.nn.Identity()
    with torch.no_grad():
        layer.eps.fill_(0.5)
    h = torch.tensor([[[1.0], [10.0], [100.0]]])
    out = layer(h, adj)
    # (1 + ε)·h_v + Σ neighbours: a ← b, b ← a + c, c ← b
    assert torch.equal(out.squeeze(), torch.tensor([1.5 * 1 + 10, 1.5 * 10 + 1 + 100, 1.5 * 100 + 10]))


def test_gin_eps_starts_at_zero_and_is_learnable():
    gin = GIN(tiny_gin(), NTU25, frames=4)
    for layer in gin.layers:
        assert layer.eps.requires_grad and layer.eps.item() == 0.0


def test_absent_persons_and_frames_do_not_change_the_embedding():
    torch.manual_seed(0)
    gin = GIN(tiny_gin(), NTU25, frames=6).eval()
    x = torch.randn(2, 1, 6, 25, 3)
    with_empty = torch.cat([x, torch.zeros_like(x)], dim=1)
    assert torch.allclose(gin(x), gin(with_empty), atol=1e-6)
    # a zero frame is left out of the frame pooling, a repeated frame is not
    padded = torch.cat([x[:, :, :5], torch.zeros_like(x[:, :, :1])], dim=2)
    repeated = torch.cat([x[:, :, :5], x[:, :, 4:5]], dim=2)
    trimmed = GIN(tiny_gin(), NTU25, frames=5)
    trimmed.load_state_dict(gin.state_dict())
    assert torch.allclose(gin(padded), trimmed(x[:, :, :5]), atol=1e-6)
    assert not torch.allclose(gin(repeated), trimmed(x[:, :, :5]), atol=1e-4)


def test_embedding_depends_on_the_pose_sequence():
    torch.manual_seed(0)
    gin = GIN(tiny_gin(), NTU25, frames=4)
    x = torch.randn(2, 2, 4, 25, 3)
    a, b = gin(x), gin(x.flip(0))
    assert not torch.allclose(a[0], a[1]) and torch.allclose(a, b.flip(0))


@pytest.mark.parametrize("share", [False, True])
def test_strl_shapes_and_gradients(share):
    torch.manual_seed(0)
    gin = GIN(tiny_gin(), NTU25, frames=6)
    before = {k: v.clone() for k, v in gin.state_dict().items()}
    model = STRL(gin, num_classes=5, num_layers=2, share_persons=share)
    x = torch.randn(3, 2, 6, 25, 3)
    x[0, 1] = 0  # an absent second person
    logits = model(x)
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
    assert grads["pos_temporal"].abs().sum() > 0
    for layer in model.layers:  # the pretrained GIN copies are fine-tuned
        assert all(p.grad.abs().sum() > 0 for p in layer.encoders[0].layers.parameters())
        assert len(layer.encoders) == (1 if share else 2)
    # STRL copies the encoder: the pretrained weights are initialisation, the source is untouched
    assert torch.equal(model.layers[0].encoders[0].layers[0].mlp[0].weight, gin.layers[0].mlp[0].weight)
    assert all(gin_p.grad is None for gin_p in gin.parameters())
    assert all(torch.equal(v, gin.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="frames"):
        model(torch.randn(1, 2, 5, 25, 3))
