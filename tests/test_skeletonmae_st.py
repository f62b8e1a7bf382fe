import pytest
import torch

from helpers import LAYOUT, tiny_method_params
from skelssl.config import SkeletonMAESTParams
from skelssl.masking.motion import patchify
from skelssl.methods.base import Batch
from skelssl.methods.mae import normalise_tokens
from skelssl.methods.skeletonmae_st import SkeletonMAEST


def tiny_st(joint_ratio=0.6, frame_ratio=0.5, **top) -> SkeletonMAESTParams:
    mask = {"joint_ratio": joint_ratio, "frame_ratio": frame_ratio}
    return tiny_method_params("skeletonmae_st", mask=mask, **top)  # type: ignore[return-value]


def _method_and_batch(seed=0, **kw):
    torch.manual_seed(seed)
    method = SkeletonMAEST(tiny_st(**kw), LAYOUT, frames=8)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 2, 8, 25, 3, generator=gen)
    x[2, 1] = 0.0
    return method, Batch(x, torch.rand(3, 2, 8, 25, generator=gen))


def test_finite_loss_gradients_and_exact_mask_ratio():
    method, batch = _method_and_batch()
    out = method(batch, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    params = dict(method.named_parameters())
    assert all(p.requires_grad for p in params.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values())
    assert sum(p.grad.abs().sum().item() for p in method.encoder.parameters()) > 0
    # 15 of 25 joints and 2 of 4 segments masked: 10 × 2 = 20 of 100 tokens stay visible
    assert out.logs["masked_pct"] == pytest.approx(80.0)
    assert out.logs["sequences"] == 5  # the absent second person of sample 2 is skipped


def test_targets_are_coordinate_patches_normalised_per_token():
    method, batch = _method_and_batch()
    x = batch.x.flatten(0, 1)
    raw = SkeletonMAEST(tiny_st(norm_target=False), LAYOUT, frames=8).targets(x)
    assert torch.equal(raw, patchify(x, 2).flatten(1, 2))
    assert torch.equal(raw[1, 2 * 25 + 7], torch.cat([x[1, 4, 7], x[1, 5, 7]]))  # frames 4, 5 of joint 7
    assert torch.allclose(method.targets(x), normalise_tokens(raw))


def test_the_mask_follows_the_params():
    method, batch = _method_and_batch(joint_ratio=0.2, frame_ratio=0.0)
    mask = method.make_mask(batch.x.flatten(0, 1), torch.Generator().manual_seed(0))
    grid = mask.masked.view(6, 4, 25)
    assert (grid.all(dim=1).sum(dim=1) == 5).all()  # 5 whole joints per sequence, no segment
    assert (grid.sum(dim=(1, 2)) == 20).all()
    with pytest.raises(ValueError, match="mask no token"):
        SkeletonMAEST(tiny_st(joint_ratio=0.0, frame_ratio=0.0), LAYOUT, frames=8)


def test_forward_is_deterministic_under_a_seed():
    m1, batch = _method_and_batch(seed=5)
    m2, _ = _method_and_batch(seed=5)
    l1 = m1(batch, torch.Generator().manual_seed(9)).loss
    assert l1.item() == m2(batch, torch.Generator().manual_seed(9)).loss.item()
    assert l1.item() != m2(batch, torch.Generator().manual_seed(10)).loss.item()
    assert m1.export_encoder() is m1.encoder


def test_paper_preset_masks_whole_joints_and_segments_of_the_750_token_grid():
    from ruamel.yaml import YAML
    from test_presets import apply_overrides

    from helpers import ROOT
    from skelssl.config import Params
    from skelssl.masking.spatial_temporal import masked_counts

    text = (ROOT / "presets/skeletonmae_st-paper.txt").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    params = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    p = Params.model_validate(apply_overrides(params, lines))
    cfg = p.methods.skeletonmae_st
    segments = p.preprocess.frames // cfg.backbone.t_patch
    assert segments * 25 == 750
    assert masked_counts(segments, 25, cfg.mask.joint_ratio, cfg.mask.frame_ratio) == (15, 21)  # 90 visible
    assert (cfg.backbone.dim, cfg.backbone.depth, cfg.decoder.depth, cfg.optim.epochs) == (256, 8, 3, 400)
    assert cfg.norm_target and not cfg.skip_absent_persons
