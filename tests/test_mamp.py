import torch

from helpers import LAYOUT, tiny_method_params
from skelssl.config import MampParams
from skelssl.masking import Mask
from skelssl.methods.base import Batch
from skelssl.methods.mae import masked_mse, normalise_tokens
from skelssl.methods.mamp import MAMP, motion_target


def tiny_mamp(**top) -> MampParams:
    return tiny_method_params("mamp", **top)  # type: ignore[return-value]


def _method_and_batch(seed=0, **top):
    torch.manual_seed(seed)
    method = MAMP(tiny_mamp(**top), LAYOUT, frames=8)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 2, 8, 25, 3, generator=gen)
    x[1, 1] = 0.0  # sample 1 has no second person
    return method, Batch(x, torch.rand(3, 2, 8, 25, generator=gen))


def test_finite_loss_and_every_parameter_gets_a_gradient():
    method, batch = _method_and_batch()
    out = method(batch, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    # an MAE has no frozen part: every parameter trains, the encoder's included
    params = dict(method.named_parameters())
    assert all(p.requires_grad for p in params.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values())
    assert sum(p.grad.abs().sum().item() for p in method.encoder.parameters()) > 0
    assert abs(out.logs["masked_pct"] - 91.0) < 1e-4  # int(100·(1−0.9)) = 9 visible of 4×25 tokens


def test_motion_target_is_the_next_frame_difference_by_hand():
    x = torch.tensor([[1.0, 2.0, 4.0, 7.0], [0.0, 0.0, 5.0, 5.0]]).T.reshape(1, 4, 2, 1)  # (B, T, V, C)
    d = motion_target(x)
    expected = torch.tensor([[1.0, 2.0, 3.0, 0.0], [0.0, 5.0, 0.0, 0.0]]).T.reshape(1, 4, 2, 1)
    assert torch.equal(d, expected)  # D[t] = X[t+1] − X[t], last frame 0


def test_targets_are_normalised_motion_patches():
    method, batch = _method_and_batch()
    x = batch.x.flatten(0, 1)
    raw = MAMP(tiny_mamp(norm_target=False), LAYOUT, frames=8).targets(x)
    assert raw.shape == (6, 100, 6)  # 4 segments × 25 joints, t_patch 2 × xyz
    # token (segment 1, joint 3) of sequence 0: motion of frames 2, 3, frame-major
    assert torch.allclose(raw[0, 1 * 25 + 3], torch.cat([x[0, 3, 3] - x[0, 2, 3], x[0, 4, 3] - x[0, 3, 3]]))
    assert torch.equal(raw[0, 3 * 25 + 3, 3:], torch.zeros(3))  # the last frame's motion is 0
    normed = method.targets(x)
    assert torch.allclose(normed, normalise_tokens(raw))
    present = normed[:2]  # absent persons stay 0 after normalisation
    assert torch.allclose(present.mean(-1), torch.zeros(2, 100), atol=1e-5)
    assert torch.allclose(present.var(-1), torch.ones(2, 100), atol=1e-3)
    assert torch.equal(method.targets(x[3:4]), torch.zeros(1, 100, 6))


def test_per_token_normalisation_uses_unbiased_variance():
    t = torch.tensor([[[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]]])
    n = normalise_tokens(t)
    mean, var = 3.0, ((4 + 1 + 0 + 9) / 3)
    assert torch.allclose(n[0, 0], (t[0, 0] - mean) / (var + 1e-6) ** 0.5)
    assert torch.equal(n[0, 1], torch.zeros(4))  # a constant token maps to 0


def test_loss_is_the_mean_over_masked_tokens_only():
    pred, target = torch.zeros(1, 3, 2), torch.tensor([[[1.0, 3.0], [2.0, 2.0], [100.0, 0.0]]])
    masked = torch.tensor([[True, True, False]])
    assert masked_mse(pred, target, masked).item() == (5.0 + 4.0) / 2  # token 2 is visible


def test_skip_absent_persons_drops_all_zero_sequences():
    for skip, sequences in ((True, 5), (False, 6)):
        method, batch = _method_and_batch(skip_absent_persons=skip)
        seen = []
        method.encoder.patch_embed.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
        out = method(batch, torch.Generator().manual_seed(1))
        assert seen == [sequences] and out.logs["sequences"] == sequences


def test_forward_is_deterministic_under_a_seed_and_uses_the_motion_mask(monkeypatch):
    m1, batch = _method_and_batch(seed=5)
    m2, _ = _method_and_batch(seed=5)
    l1 = m1(batch, torch.Generator().manual_seed(9)).loss
    assert l1.item() == m2(batch, torch.Generator().manual_seed(9)).loss.item()
    assert l1.item() != m2(batch, torch.Generator().manual_seed(10)).loss.item()
    calls = []
    import skelssl.methods.mamp as mamp_module
    real = mamp_module.motion_aware_gumbel_mask

    def spy(x, t_patch, ratio, tau, generator) -> Mask:
        calls.append((x.shape, t_patch, ratio, tau))
        return real(x, t_patch, ratio, tau, generator)

    monkeypatch.setattr(mamp_module, "motion_aware_gumbel_mask", spy)
    m1(batch, torch.Generator().manual_seed(9))
    assert calls == [((5, 8, 25, 3), 2, m1.cfg.mask.ratio, m1.cfg.mask.tau)]
    assert set(m1.export_encoder().state_dict()) == set(m1.encoder.state_dict())


def test_paper_preset_is_the_mamp_ntu60_configuration():
    from ruamel.yaml import YAML
    from test_presets import apply_overrides

    from helpers import ROOT
    from skelssl.config import Params
    from skelssl.masking.motion import visible_tokens

    text = (ROOT / "presets/mamp-paper.txt").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    params = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    p = Params.model_validate(apply_overrides(params, lines))
    cfg = p.methods.mamp
    tokens = (p.preprocess.frames // cfg.backbone.t_patch) * 25
    assert tokens == 750 and visible_tokens(tokens, cfg.mask.ratio) == 74
    assert (cfg.backbone.dim, cfg.backbone.depth, cfg.backbone.heads, cfg.decoder.depth) == (256, 8, 8, 3)
    o = cfg.optim
    assert (cfg.mask.tau, o.lr, o.min_lr, o.warmup_epochs, o.epochs, o.batch_size) == (0.8, 1e-3, 5e-4, 20, 400, 128)
    assert o.betas == (0.9, 0.95) and o.weight_decay == 0.05 and cfg.augment.rotation == 0.3
    assert cfg.optim.grad_clip == 0 and not cfg.skip_absent_persons and cfg.norm_target
