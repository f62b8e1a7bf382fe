import copy
import math

import pytest
import torch
from ruamel.yaml import YAML

from helpers import LAYOUT, ROOT, tiny_method_params
from skelssl.augment_pstl import (left_right_permutation, pstl_augment, random_axis_rotation,
                                  random_shear, temporal_crop)
from skelssl.config import Params, PSTLParams
from skelssl.masking.pstl import (central_spatial_mask, degree_multiset, frame_energy, gather_frames,
                                  motion_attention_temporal_mask)
from skelssl.methods.base import Batch
from skelssl.methods.pstl import PSTL, barlow_twins_loss, cross_correlation
from skelssl.presets import apply_overrides, read_preset

# PSTL's reference degree list (model.py `central_spacial_mask`), 0-based joint order
REFERENCE_DEGREES = [3, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 1, 4, 1, 2, 1, 2]


def tiny_pstl(**mask: int) -> PSTLParams:
    return tiny_method_params("pstl", mask=mask)  # type: ignore[return-value]


def _method_and_batch(seed=0, **mask):
    torch.manual_seed(seed)
    method = PSTL(tiny_pstl(**mask), LAYOUT, frames=12)
    gen = torch.Generator().manual_seed(seed)
    batch = Batch(torch.randn(6, 2, 12, 25, 3, generator=gen), torch.rand(6, 2, 12, 25, generator=gen))
    return method, batch


def test_finite_loss_gradients_reach_encoder_and_logs():
    method, batch = _method_and_batch(csm_joints=8, matm_frames=3, matm_random_frames=2)
    out = method(batch, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    assert out.loss.item() == pytest.approx(out.logs["bt_temporal"] + out.logs["bt_spatial"], rel=1e-5)
    out.loss.backward()
    for p in list(method.encoder.parameters()) + list(method.projector.parameters()):
        assert p.grad is not None
    assert sum(p.grad.abs().sum().item() for p in method.encoder.parameters()) > 0
    assert out.logs["kept_frames"] == 12 - 3 - 2
    assert 25 - 8 <= out.logs["kept_joints"] < 25
    assert {"c_diag", "c_offdiag_sq", "emb_std", "emb_norm_std"} <= set(out.logs)
    assert method.export_encoder() is method.encoder
    assert method.export_encoder()(batch.x).shape == (6, 16)


def test_forward_is_deterministic_under_a_seed():
    m1, batch = _method_and_batch(seed=3)
    m2, _ = _method_and_batch(seed=3)
    m1.eval(), m2.eval()  # dropout off: only the generator is random
    l1 = m1(batch, torch.Generator().manual_seed(9)).loss.item()
    l2 = m2(batch, torch.Generator().manual_seed(9)).loss.item()
    l3 = m2(batch, torch.Generator().manual_seed(10)).loss.item()
    assert l1 == l2 and l1 != l3


def test_method_rejects_masks_that_remove_everything():
    with pytest.raises(ValueError, match="csm_joints"):
        PSTL(tiny_pstl(csm_joints=25), LAYOUT, frames=12)
    with pytest.raises(ValueError, match="matm"):
        PSTL(tiny_pstl(matm_frames=6, matm_random_frames=6), LAYOUT, frames=12)


# ---------------------------------------------------------------------------- CSM


def test_degree_multiset_matches_the_reference():
    pool = degree_multiset(LAYOUT)
    assert len(pool) == 48
    assert torch.bincount(pool, minlength=25).tolist() == REFERENCE_DEGREES


@pytest.mark.parametrize("draws", [0, 1, 8, 20])
def test_central_spatial_mask_counts(draws):
    pool = degree_multiset(LAYOUT)
    for seed in range(20):
        kept, removed = central_spatial_mask(LAYOUT, draws, torch.Generator().manual_seed(seed))
        picks = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:draws]
        assert removed.tolist() == sorted(set(pool[picks].tolist()))  # exactly the drawn joints
        assert len(kept) + len(removed) == 25 and not set(kept.tolist()) & set(removed.tolist())
        assert kept.tolist() == sorted(kept.tolist())
        assert (1 if draws else 0) <= len(removed) <= draws


def test_central_spatial_mask_prefers_central_joints():
    counts = torch.zeros(25)
    for seed in range(400):
        _, removed = central_spatial_mask(LAYOUT, 1, torch.Generator().manual_seed(seed))
        counts[removed] += 1
    assert counts[20] > counts[3] * 2  # spine shoulder (degree 4) vs head (degree 1)


# ---------------------------------------------------------------------------- MATM


def _clip_with_steps(steps: torch.Tensor) -> torch.Tensor:
    """Clip (N, 2, T, 25, 3) whose frame-to-frame difference is steps[n, t] on every coordinate."""
    positions = torch.cat([torch.zeros(steps.shape[0], 1), steps.cumsum(dim=1)], dim=1)
    return positions.view(*positions.shape, 1, 1, 1).expand(-1, -1, 25, 3, 2).permute(0, 4, 1, 2, 3)


def test_frame_energy_is_the_mean_squared_next_frame_difference():
    steps = torch.tensor([[1.0, 2.0, 0.5], [0.0, 3.0, 1.0]])
    energy = frame_energy(_clip_with_steps(steps))
    assert torch.allclose(energy, torch.tensor([[1.0, 4.0, 0.25, 0.0], [0.0, 9.0, 1.0, 0.0]]))


def test_matm_drops_the_highest_energy_frames_then_random_ones():
    gen = torch.Generator().manual_seed(0)
    n, t, top, rand = 5, 20, 4, 3
    steps = torch.rand(n, t - 1, generator=gen) + 0.01  # distinct energies, all > last frame's 0
    x = _clip_with_steps(steps)
    energy = frame_energy(x)
    frames = motion_attention_temporal_mask(x, top, rand, torch.Generator().manual_seed(1))
    assert frames.shape == (n, t - top - rand)
    assert (frames.diff(dim=1) > 0).all()  # order preserved
    positions = []
    for i in range(n):
        highest = set(energy[i].topk(top).indices.tolist())
        low = sorted(set(range(t)) - highest)
        assert not highest & set(frames[i].tolist())
        positions.append([low.index(f) for f in frames[i].tolist()])
    assert all(p == positions[0] for p in positions)  # the random drop is shared by the batch
    kept = gather_frames(x, frames)
    assert kept.shape == (n, 2, t - top - rand, 25, 3)
    assert torch.equal(kept[2, :, 1], x[2, :, frames[2, 1]])


def test_matm_is_deterministic_and_counts_are_exact():
    x = torch.randn(3, 2, 16, 25, 3)
    for top, rand in [(0, 0), (5, 0), (0, 5), (5, 5)]:
        a = motion_attention_temporal_mask(x, top, rand, torch.Generator().manual_seed(4))
        b = motion_attention_temporal_mask(x, top, rand, torch.Generator().manual_seed(4))
        assert torch.equal(a, b) and a.shape == (3, 16 - top - rand)
    with pytest.raises(ValueError):
        motion_attention_temporal_mask(x, 8, 8, torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------- augmentation


def test_crop_takes_a_window_of_the_mirror_padded_clip():
    t = 12
    x = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(50, 2, t, 25, 3)
    out = temporal_crop(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    padded = torch.tensor([1.0, 0.0, *range(t), 11.0, 10.0])  # pad = 12 // 6 = 2, edge included
    starts = set()
    for clip in out[:, 0, :, 0, 0]:
        start = next(s for s in range(5) if torch.equal(padded[s:s + t], clip))
        starts.add(start)
    assert starts == {0, 1, 2, 3, 4}


def test_shear_rotation_swap_keep_absent_persons_zero_and_are_seeded():
    x = torch.randn(8, 2, 10, 25, 3)
    x[:, 1] = 0
    out = pstl_augment(x, LAYOUT, 1.0, 30.0, 1.0, 0.5, torch.Generator().manual_seed(0))
    again = pstl_augment(x, LAYOUT, 1.0, 30.0, 1.0, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and out.shape == x.shape
    assert (out[:, 1] == 0).all() and not torch.allclose(out, x)
    assert torch.equal(random_shear(x, 0.0, torch.Generator()), x)


def test_rotation_angles_one_main_axis():
    x = torch.randn(200, 1, 2, 4, 3)
    out = random_axis_rotation(x, 30.0, 1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a rotation
    # recover each sample's rotation R (x ↦ R x) and its angle: ≤ 30° + 2·1° in total
    rot = torch.linalg.lstsq(x.reshape(200, -1, 3), out.reshape(200, -1, 3)).solution.transpose(1, 2)
    angle = torch.rad2deg(torch.arccos(((rot.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)))
    assert angle.max() < 32.5 and angle.max() > 20
    small = random_axis_rotation(x, 1.0, 1.0, torch.Generator().manual_seed(0))
    assert (small - x).abs().max() < math.radians(2.0) * x.abs().max() * 3


def test_left_right_swap_is_an_involution_pairing_layout_joints():
    perm = left_right_permutation(LAYOUT)
    assert torch.equal(perm[perm], torch.arange(25))
    assert perm[4] == 8 and perm[21] == 23 and perm[20] == 20
    assert sorted(perm.tolist()) == list(range(25))


# ---------------------------------------------------------------------------- loss


def _orthogonal_embeddings(n=64, d=16):
    """Columns of a Sylvester-Hadamard matrix (±1), minus the constant one: standardised, C = I."""
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h[:, 1:d + 1]


def test_barlow_twins_loss_zero_for_decorrelated_identical_embeddings_and_grows_with_correlation():
    z = _orthogonal_embeddings()
    c = cross_correlation(z, z)
    assert torch.allclose(c.diag, torch.ones(16), atol=1e-4) and abs(c.off_sq.item()) < 1e-4
    assert barlow_twins_loss(cross_correlation(z, z), 2e-4).item() < 1e-5
    shared = torch.randn(64, 1, generator=torch.Generator().manual_seed(0))
    losses = []
    for rho in (0.0, 0.3, 0.6, 0.9):
        zr = math.sqrt(1 - rho) * z + math.sqrt(rho) * shared
        losses.append(barlow_twins_loss(cross_correlation(zr, zr), 1.0).item())
    assert all(a < b for a, b in zip(losses, losses[1:], strict=False))
    # on-diagonal term: independent views give C_ii ≈ 0 → about D
    noise = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    assert barlow_twins_loss(cross_correlation(z, noise), 0.0).item() > 8


@pytest.mark.parametrize("n, d", [(16, 48), (48, 16)])  # Gram form (N < D) and direct form
def test_cross_correlation_matches_the_explicit_matrix_in_value_and_gradient(n, d):
    gen = torch.Generator().manual_seed(3)
    za = torch.randn(n, d, generator=gen, dtype=torch.float64, requires_grad=True)
    zb = (za.detach() + torch.randn(n, d, generator=gen, dtype=torch.float64)).requires_grad_()
    a = torch.nn.functional.batch_norm(za, None, None, training=True, eps=1e-5)
    b = torch.nn.functional.batch_norm(zb, None, None, training=True, eps=1e-5)
    explicit = a.T @ b / n
    eye = torch.eye(d, dtype=torch.bool)
    want = (1 - explicit.diagonal()).pow(2).sum() + 0.01 * explicit[~eye].pow(2).sum()
    c = cross_correlation(za, zb)
    assert c.diag.dtype == torch.float32  # computed in float32, as under autocast
    got = barlow_twins_loss(c, 0.01)
    assert torch.allclose(c.diag.double(), explicit.diagonal(), rtol=1e-4, atol=1e-5)
    assert torch.allclose(c.off_sq.double(), explicit[~eye].pow(2).sum(), rtol=1e-4)
    g_want = torch.autograd.grad(want, (za, zb))
    g_got = torch.autograd.grad(got, (za, zb))
    for gw, gg in zip(g_want, g_got, strict=True):
        assert torch.allclose(gg.double(), gw, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------- preset


def test_pstl_paper_preset_is_the_paper_configuration():
    lines = read_preset(ROOT / "presets/pstl-paper.txt")
    params = apply_overrides(YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text()), lines)
    p = Params.model_validate(params)
    cfg = p.methods.pstl
    assert p.method == "pstl" and p.preprocess.frames == 50
    b = cfg.backbone
    assert (b.hidden_channels, b.hidden_dim, b.temporal_kernel, b.dropout, b.edge_importance) == (16, 256, 9, 0.5, True)
    o = cfg.optim
    assert (o.name, o.lr, o.weight_decay, o.batch_size, o.epochs, o.warmup_epochs, o.min_lr) == (
        "adam", 5e-3, 1e-5, 128, 150, 10, 0.0)
    assert (cfg.projector_dim, cfg.lambd) == (6144, 2e-4)
    assert (cfg.mask.csm_joints, cfg.mask.matm_frames, cfg.mask.matm_random_frames) == (8, 10, 10)
    a = cfg.augment
    assert (a.shear, a.rotation_main, a.rotation_other, a.flip_prob) == (1.0, 30.0, 1.0, 0.5)


def test_project_streams_equals_separate_projector_calls():
    """Values, gradients and BatchNorm running statistics match three separate calls."""
    from skelssl.methods.pstl import project_streams, projector

    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    joint = projector(12, 40).double()
    separate = copy.deepcopy(joint)
    streams = [torch.randn(n, 12, generator=gen, dtype=torch.float64, requires_grad=True) for n in (8, 8, 6)]
    twins = [h.detach().clone().requires_grad_() for h in streams]
    got = project_streams(joint, streams)
    want = [separate(h) for h in twins]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)
    weights = [torch.randn(w.shape, generator=gen, dtype=torch.float64) for w in want]
    sum((g * r).sum() for g, r in zip(got, weights, strict=True)).backward()
    sum((w * r).sum() for w, r in zip(want, weights, strict=True)).backward()
    for h, t in zip(streams, twins, strict=True):
        torch.testing.assert_close(h.grad, t.grad)
    for (name, a), (_, b) in zip(joint.named_parameters(), separate.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    for (name, a), (_, b) in zip(joint.named_buffers(), separate.named_buffers(), strict=True):
        torch.testing.assert_close(a, b, msg=name)  # running mean / var / num_batches_tracked
