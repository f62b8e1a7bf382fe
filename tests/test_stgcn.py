import pytest
import torch

from helpers import LAYOUT
from skelssl.backbones.graph import adjacency, hop_distance, spatial_partition, subgraph
from skelssl.backbones.stgcn import STGCN, STGCNUnit
from skelssl.config import STGCNParams
from skelssl.skeleton import LAYOUTS

@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread is fastest and immune to a busy machine's OpenMP stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)



def tiny(edge_importance=True, dropout=0.0, partition="reference"):
    return STGCNParams(name="stgcn", hidden_channels=4, hidden_dim=12, temporal_kernel=3,
                       dropout=dropout, edge_importance=edge_importance, partition=partition)


@pytest.mark.parametrize("partition", ["reference", "true_distance"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda lay: lay.name)
def test_output_shape_for_every_layout_and_joint_subset(layout, partition):
    torch.manual_seed(0)
    enc = STGCN(tiny(dropout=0.5, partition=partition), layout, frames=8)
    assert torch.equal(enc.A, spatial_partition(layout, partition))
    x = torch.randn(3, 2, 8, layout.num_joints, layout.channels)
    assert enc.out_dim == 12
    assert enc(x).shape == (3, 12)
    kept = torch.arange(0, layout.num_joints, 2)
    assert enc(x, joints=kept).shape == (3, 12)
    assert enc(x[:, :, :5]).shape == (3, 12)  # any number of frames (MATM shortens the clip)


@pytest.mark.parametrize("partition", ["reference", "true_distance"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda lay: lay.name)
def test_spatial_partition_structure(layout, partition):
    a = spatial_partition(layout, partition)
    v = layout.num_joints
    assert a.shape == (3, v, v)
    assert torch.equal(a[0], torch.diag(torch.diagonal(a[0])))  # subset 0: self-links only
    assert torch.allclose(a.sum(dim=(0, 1)), torch.ones(v))  # each receiving joint: mean over N(w)
    support = a > 0
    assert not (support[1] & support[2]).any() and not (support[0] & (support[1] | support[2])).any()
    assert torch.equal(support.any(0), adjacency(layout) > 0)
    dist = hop_distance(layout, 1 if partition == "reference" else None)[:, layout.graph_center]
    src, dst = torch.nonzero(support[2], as_tuple=True)
    assert (dist[src] < dist[dst]).all()  # subset 2: messages from the joint closer to the centre
    src, dst = torch.nonzero(support[1], as_tuple=True)
    assert (dist[src] >= dist[dst]).all()  # (reference: inf >= inf, far-far edges included)
    has_closer = support[2].any(dim=0)
    assert not has_closer[layout.graph_center]
    if partition == "true_distance":  # every joint but the centre has a closer neighbour
        assert has_closer.sum() == v - 1
    else:  # only the joints within two hops of the centre do
        true_dist = hop_distance(layout)[:, layout.graph_center]
        assert torch.equal(has_closer, (true_dist >= 1) & (true_dist <= 2))


def test_hop_distance_max_hop_is_inf_beyond():
    full, one = hop_distance(LAYOUT), hop_distance(LAYOUT, max_hop=1)
    assert torch.equal(one[full <= 1], full[full <= 1]) and torch.isinf(one[full > 1]).all()
    assert torch.isinf(hop_distance(LAYOUT, max_hop=0)[~torch.eye(25, dtype=torch.bool)]).all()


# [PSTL-code] module/gcn/utils/graph.py (HEAD da95ce1) with layout 'ntu-rgb+d', strategy 'spatial',
# max_hop 1 (config.py graph_args): the (source v, target w) positions of the non-zero entries of
# subsets 1 and 2 (0-based joints; subset 0 is the 25 self-links). Read off the reference's output.
REFERENCE_SUBSET1 = [
    (0, 1), (0, 12), (0, 16), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (5, 6), (6, 5), (6, 7),
    (7, 6), (7, 22), (8, 20), (9, 8), (9, 10), (10, 9), (10, 11), (11, 10), (11, 24), (12, 0),
    (12, 13), (13, 12), (13, 14), (14, 13), (14, 15), (15, 14), (16, 0), (16, 17), (17, 16),
    (17, 18), (18, 17), (18, 19), (19, 18), (21, 22), (22, 7), (22, 21), (23, 24), (24, 11), (24, 23),
]
REFERENCE_SUBSET2 = [(1, 0), (2, 3), (4, 5), (8, 9), (20, 1), (20, 2), (20, 4), (20, 8)]


def test_reference_partition_is_pstls_for_ntu25():
    a = spatial_partition(LAYOUT, "reference")
    support = a != 0
    assert [int(support[k].sum()) for k in range(3)] == [25, 40, 8]
    assert torch.equal(support[0], torch.eye(25, dtype=torch.bool))
    assert [tuple(e) for e in torch.nonzero(support[1]).tolist()] == REFERENCE_SUBSET1
    assert [tuple(e) for e in torch.nonzero(support[2]).tolist()] == REFERENCE_SUBSET2
    # values: normalize_digraph, A·D⁻¹ with column sums, so entry [v, w] = 1 / |N(w)| (self + bones)
    size = adjacency(LAYOUT).sum(dim=0)
    torch.testing.assert_close(a.sum(dim=0), adjacency(LAYOUT) / size)
    torch.testing.assert_close(a.sum(dim=(0, 1)), torch.ones(25))
    # the true-distance partition: 25 / 24 / 24; 16 bone messages change subset (true subset 2 →
    # reference subset 1), so 32 of the (k, v, w) positions differ; same support over the subsets
    true = spatial_partition(LAYOUT, "true_distance") != 0
    assert [int(true[k].sum()) for k in range(3)] == [25, 24, 24]
    assert int((support != true).sum()) == 32 and int((true[2] & support[1]).sum()) == 16
    assert torch.equal(support.any(0), true.any(0))


def test_unknown_partition_is_rejected():
    with pytest.raises(ValueError, match="partition"):
        spatial_partition(LAYOUT, "distance")


def test_ntu_partition_values():
    a = spatial_partition(LAYOUT, "true_distance")
    c = LAYOUT.graph_center  # spine shoulder (joint 21): neighbours 2, 3, 5, 9 (1-based)
    assert torch.allclose(a[0, c, c], torch.tensor(0.2))
    assert sorted(torch.nonzero(a[1, :, c]).flatten().tolist()) == [1, 2, 4, 8]
    assert torch.allclose(a[1, [1, 2, 4, 8], c], torch.full((4,), 0.2))
    assert not a[2, :, c].any()
    # spine base (joint 1): spine mid is closer to the centre, both hips are farther
    assert torch.nonzero(a[2, :, 0]).flatten().tolist() == [1]
    assert torch.nonzero(a[1, :, 0]).flatten().tolist() == [12, 16]
    assert torch.allclose(a[:, :, 0].sum(), torch.tensor(1.0)) and torch.isclose(a[0, 0, 0], torch.tensor(0.25))


def test_subgraph_drops_rows_and_columns_without_renormalising():
    a = spatial_partition(LAYOUT, "reference")
    kept = torch.tensor([0, 1, 2, 20])
    sub = subgraph(a, kept)
    assert sub.shape == (3, 4, 4)
    assert torch.equal(sub, a[:, kept][:, :, kept])
    assert (sub.sum(dim=(0, 1)) < 1).any()  # removed neighbours are not compensated
    assert subgraph(a, None) is a


def test_unit_matches_reference_einsum():
    torch.manual_seed(0)
    unit = STGCNUnit(5, 6, subsets=3, kernel=3, stride=2, dropout=0.0, residual=True).eval()
    x = torch.randn(2, 5, 8, 25)
    a = spatial_partition(LAYOUT, "reference") * (1 + torch.rand(3, 25, 25))
    y = unit.gcn(x).view(2, 3, 6, 8, 25)
    expected = torch.relu(unit.tcn(torch.einsum("nkctv,kvw->nctw", y, a)) + unit.residual(x))
    assert torch.allclose(unit(x, a), expected, atol=1e-5)


def test_architecture_widths_strides_and_residuals():
    cfg = STGCNParams(name="stgcn", hidden_channels=16, hidden_dim=256, temporal_kernel=9,
                      dropout=0.5, edge_importance=True, partition="reference")
    enc = STGCN(cfg, LAYOUT, frames=50)
    outs = [u.c_out for u in enc.units]
    assert outs == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    strides = [u.tcn[2].stride[0] for u in enc.units]
    assert [i + 1 for i, s in enumerate(strides) if s == 2] == [5, 8]
    assert enc.units[0].residual is None and all(u.residual is not None for u in enc.units[1:])
    assert isinstance(enc.units[0].tcn[4], torch.nn.Identity)
    assert all(u.tcn[4].p == 0.5 for u in enc.units[1:])
    assert enc.data_bn.num_features == 75


def test_edge_importance_is_learnable_and_masked_joints_get_no_gradient():
    torch.manual_seed(0)
    enc = STGCN(tiny(), LAYOUT, frames=8)
    assert len(enc.edge_importance) == 10
    assert all(p.requires_grad and p.shape == (3, 25, 25) for p in enc.edge_importance)
    kept = torch.tensor([j for j in range(25) if j not in (3, 7, 20)])
    enc(torch.randn(4, 2, 8, 25, 3), joints=kept).pow(2).sum().backward()
    for p in enc.edge_importance:
        assert p.grad is not None and p.grad[:, kept][:, :, kept].abs().sum() > 0
        assert p.grad[:, 20].abs().sum() == 0 and p.grad[:, :, 20].abs().sum() == 0
    plain = STGCN(tiny(edge_importance=False), LAYOUT, frames=8)
    assert plain.edge_importance is None
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in enc.parameters())


def test_removed_joints_do_not_influence_the_output():
    torch.manual_seed(0)
    enc = STGCN(tiny(), LAYOUT, frames=8)
    x = torch.randn(4, 2, 8, 25, 3)
    kept = torch.tensor([j for j in range(25) if j not in (5, 11, 20)])
    changed = x.clone()
    changed[:, :, :, [5, 11, 20]] = torch.randn(4, 2, 8, 3, 3) * 10
    assert torch.allclose(enc(x, joints=kept), enc(changed, joints=kept), atol=1e-5)
    assert not torch.allclose(enc(x), enc(changed), atol=1e-3)


def test_dropout_zeroes_about_p_scales_the_rest_and_is_identity_in_eval():
    from skelssl.backbones.stgcn import Dropout

    drop = Dropout(0.5)
    x = torch.ones(200, 16, 10, 25)
    torch.manual_seed(0)
    y = drop(x)
    zero = (y == 0).float().mean().item()
    assert abs(zero - 0.5) < 0.01  # 800 000 draws: the std of the fraction is 0.0006
    assert torch.equal(y[y != 0], torch.full_like(y[y != 0], 2.0))
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # global RNG: same seed, same mask
    xg = x.clone().requires_grad_()
    torch.manual_seed(1)
    drop(xg).sum().backward()
    torch.manual_seed(1)
    assert torch.equal(xg.grad, Dropout(0.5)(torch.ones_like(x)))  # gradient = mask · 1/(1−p)
    assert drop.eval()(x) is x
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)


@pytest.mark.parametrize("joints", [None, torch.tensor([0, 1, 2, 3, 5, 8, 13, 20, 24])])
def test_graph_conv_equals_the_reference_order_projection_then_aggregation(joints):
    """Σ_k (W_k x + b_k) A_k computed as the reference does (1×1 conv to K·C_out, then the einsum)."""
    from skelssl.backbones.stgcn import graph_conv

    gen = torch.Generator().manual_seed(0)
    a = subgraph(spatial_partition(LAYOUT, "reference"), joints) * torch.rand(3, 25, 25, generator=gen)[
        ..., : (25 if joints is None else len(joints)), : (25 if joints is None else len(joints))]
    v = a.shape[-1]
    x = torch.randn(4, 5, 7, v, generator=gen, dtype=torch.float64)
    weight = torch.randn(3 * 6, 5, 1, 1, generator=gen, dtype=torch.float64)
    bias = torch.randn(3 * 6, generator=gen, dtype=torch.float64)
    a = a.double()
    y = torch.nn.functional.conv2d(x, weight, bias).view(4, 3, 6, 7, v)
    want = torch.einsum("nkctv,kvw->nctw", y, a)
    torch.testing.assert_close(graph_conv(x, a, weight, bias), want)
    # float32: the aggregation matmul takes the oneDNN path
    got32 = graph_conv(x.float(), a.float(), weight.float(), bias.float())
    torch.testing.assert_close(got32, want.float(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(graph_conv(x, a, weight, None),
                               torch.einsum("nkctv,kvw->nctw",
                                            torch.nn.functional.conv2d(x, weight).view(4, 3, 6, 7, v), a))


@pytest.mark.parametrize("p", [0.5, 0.25, 0.3])  # 0.5, 0.25: random bytes; 0.3: uniforms
@pytest.mark.parametrize("channels_last", [False, True])
def test_keep_mask_is_bernoulli_and_laid_out_like_its_input(p, channels_last):
    from skelssl.backbones.stgcn import keep_mask

    x = torch.zeros(64, 16, 20, 25)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    keep = keep_mask(x, p)
    assert keep.dtype == torch.bool and keep.shape == x.shape and keep.stride() == x.stride()
    assert abs(keep.float().mean().item() - (1 - p)) < 0.003  # 512 000 draws: std of the mean ≤ 0.0007
    # neighbours in memory and in every axis are independent: P(both kept) = (1 − p)²
    flat = keep.flatten()
    assert abs((flat[1:] & flat[:-1]).float().mean().item() - (1 - p) ** 2) < 0.003
    for dim in range(4):
        a, b = keep.narrow(dim, 0, keep.shape[dim] - 1), keep.narrow(dim, 1, keep.shape[dim] - 1)
        assert abs((a & b).float().mean().item() - (1 - p) ** 2) < 0.004
    torch.manual_seed(0)
    assert torch.equal(keep_mask(x, p), keep)  # global RNG: same seed, same mask
    assert not torch.equal(keep_mask(x, p), keep)
