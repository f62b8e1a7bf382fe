import torch

from helpers import LAYOUT, tiny_skeleton2vec
from skelssl.config import EmaParams
from skelssl.methods import Batch, build_method
from skelssl.methods.skeleton2vec import contextual_targets, ema_decay


def _method_and_batch(seed=0):
    torch.manual_seed(seed)
    method = build_method("skeleton2vec", tiny_skeleton2vec(ratio=0.8), layout=LAYOUT, frames=8)
    gen = torch.Generator().manual_seed(seed)
    batch = Batch(torch.randn(3, 2, 8, 25, 3, generator=gen), torch.rand(3, 2, 8, 25, generator=gen))
    return method, batch


def test_finite_loss_and_gradients_reach_encoder_not_teacher():
    method, batch = _method_and_batch()
    out = method(batch, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    enc_grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None for g in enc_grads)
    assert sum(g.abs().sum().item() for g in enc_grads) > 0
    assert all(p.grad is None and not p.requires_grad for p in method.teacher.parameters())
    assert set(out.logs) >= {"pred_var", "target_var", "masked_pct"}
    e = method.cfg.ema  # the schedule itself: test_ema_decay_schedule
    assert method.after_step(1, 10) == {"ema_decay": ema_decay(1, 10, e.start, e.end, e.anneal_fraction)}
    assert abs(out.logs["masked_pct"] - 80.0) < 1e-4  # 5 of 25 joints visible at ratio 0.8


def test_ema_update_moves_teacher_towards_student():
    method, _ = _method_and_batch()
    method.cfg = method.cfg.model_copy(update={"ema": EmaParams(start=0.999, end=1.0, anneal_fraction=1.0)})
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    before = [t.clone() for t in method.teacher.parameters()]
    logs = method.after_step(step=1, total_steps=1000)
    decay = 0.999 + (1.0 - 0.999) * 1 / 1000  # linear from start towards end over the 1000 steps
    assert abs(logs["ema_decay"] - decay) < 1e-12
    for b, t, s in zip(before, method.teacher.parameters(), method.encoder.parameters(), strict=True):
        assert torch.allclose(t, b + (1 - decay) * (s - b), atol=1e-6)
        assert not torch.equal(t, b)
    frozen = [t.clone() for t in method.teacher.parameters()]
    method.after_step(step=1000, total_steps=1000)  # decay = end = 1.0 → teacher fixed
    assert all(torch.equal(a, b) for a, b in zip(frozen, method.teacher.parameters(), strict=True))


def test_ema_decay_schedule():
    assert ema_decay(0, 100, 0.99, 1.0, 0.5) == 0.99
    assert abs(ema_decay(25, 100, 0.99, 1.0, 0.5) - 0.995) < 1e-12
    assert ema_decay(50, 100, 0.99, 1.0, 0.5) == 1.0
    assert ema_decay(99, 100, 0.99, 1.0, 0.5) == 1.0


def test_targets_are_layer_normalised_averages():
    layers = [torch.randn(2, 10, 8) * (i + 1) + i for i in range(3)]
    for norm in ("instance", "layer"):
        target = contextual_targets(layers, norm)
        assert target.shape == (2, 10, 8)
        assert torch.allclose(target.mean(-1), torch.zeros(2, 10), atol=1e-5)
        assert torch.allclose(target.var(-1, unbiased=False), torch.ones(2, 10), atol=1e-3)
    # instance norm: each layer is normalised over tokens, so a per-channel offset is removed
    shifted = [h + torch.randn(1, 1, 8) * 5 for h in layers]
    assert torch.allclose(contextual_targets(shifted, "instance"), contextual_targets(layers, "instance"),
                          atol=1e-4)


def test_forward_is_deterministic():
    m1, batch = _method_and_batch(seed=5)
    m2, _ = _method_and_batch(seed=5)
    l1 = m1(batch, torch.Generator().manual_seed(9)).loss
    l2 = m2(batch, torch.Generator().manual_seed(9)).loss
    assert l1.item() == l2.item()


def test_export_is_the_student_or_the_teacher_as_configured():
    method, _ = _method_and_batch()
    with torch.no_grad():  # make the two encoders differ, so the weights tell which one left
        for p in method.encoder.parameters():
            p.add_(1.0)
    exported = {}
    for export in ("student", "teacher"):
        method.cfg = method.cfg.model_copy(update={"export": export})
        exported[export] = method.export_encoder().state_dict()
    assert set(exported["teacher"]) == set(exported["student"]) == set(method.encoder.state_dict())
    for name, value in method.encoder.state_dict().items():
        assert torch.equal(exported["student"][name], value), name
    for name, value in method.teacher.state_dict().items():
        assert torch.equal(exported["teacher"][name], value), name
    assert any(not torch.equal(exported["student"][k], exported["teacher"][k]) for k in exported["student"])


# --- reference facts of the Skeleton2vec dev code (Ruizhuo-Xu/SKeleton2vec-code, branch dev) ---


def test_decoder_blocks_carry_the_encoders_layerscale():
    """models/transformer.py `SkTWithDecoder`: the decoder's blocks get `layer_scale_init_value` too."""
    method, _ = _method_and_batch()
    assert method.cfg.backbone.layer_scale == 1e-4
    for block in list(method.encoder.blocks) + list(method.decoder.blocks):
        assert torch.equal(block.gamma1, torch.full_like(block.gamma1, 1e-4))
        assert torch.equal(block.gamma2, torch.full_like(block.gamma2, 1e-4))


def test_linear_and_conv_weights_are_trunc_normal_002():
    """models/skeleton2vec.py `Skeleton2Vec2._init_weights`: trunc-normal(0.02) Linear and Conv2d
    weights, zero biases, over the whole auto-encoder (not MAMP's xavier-uniform)."""
    method, _ = _method_and_batch()
    weights, biases = [], []
    for part in (method.encoder, method.decoder):
        for m in part.modules():
            if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
                weights.append(m.weight.detach().flatten())
                if m.bias is not None:
                    biases.append(m.bias.detach())
    w = torch.cat(weights)
    assert w.numel() > 10_000 and abs(w.std().item() - 0.02) < 0.001 and w.abs().max() < 0.1
    assert all((b == 0).all() for b in biases)
    assert abs(method.decoder.head.weight.std().item() - 0.02) < 0.003  # the feature head too
    for t, s in zip(method.teacher.state_dict().values(), method.encoder.state_dict().values(), strict=True):
        assert torch.equal(t, s)  # the teacher is copied after the initialisation


def test_abs_frame_motion_is_mean_abs_difference_per_coordinate():
    from skelssl.masking.tube import abs_frame_motion

    x = torch.zeros(1, 3, 2, 3)
    x[0, 1, 0] = torch.tensor([3.0, -6.0, 0.0])
    m = abs_frame_motion(x)
    assert m.shape == (1, 3, 2)
    assert m[0, :, 0].tolist() == [3.0, 3.0, 0.0]  # mean(|3|, |−6|, 0) both ways; last frame 0
    assert (m[0, :, 1] == 0).all()


def test_motion_prior_is_computed_after_the_rotation(monkeypatch):
    """The dev pipeline runs RandomRot before ToMotion; batch.motion (precomputed) is not used."""
    import skelssl.methods.skeleton2vec as s2v
    from skelssl.masking import token_motion
    from skelssl.masking.tube import abs_frame_motion

    method, batch = _method_and_batch()
    seen: dict[str, torch.Tensor] = {}
    real_mask, real_rotation = s2v.motion_aware_tube_mask, s2v.random_rotation

    def mask_spy(motion, *args):
        seen["motion"] = motion
        return real_mask(motion, *args)

    def rotation_spy(x, *args):
        seen["before"] = x
        seen["after"] = real_rotation(x, *args)
        return seen["after"]

    monkeypatch.setattr(s2v, "motion_aware_tube_mask", mask_spy)
    monkeypatch.setattr(s2v, "random_rotation", rotation_spy)
    method(batch._replace(motion=torch.full_like(batch.motion, 7.0)), torch.Generator().manual_seed(1))
    t_patch = method.cfg.backbone.t_patch
    want = token_motion(abs_frame_motion(seen["after"].flatten(0, 1)), t_patch)
    assert torch.allclose(seen["motion"], want, atol=1e-6)
    unrotated = token_motion(abs_frame_motion(seen["before"].flatten(0, 1)), t_patch)
    assert not torch.allclose(seen["motion"], unrotated, atol=1e-3)
