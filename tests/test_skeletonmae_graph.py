import itertools

import pytest
import torch
from ruamel.yaml import YAML

from helpers import LAYOUT, ROOT, tiny_method_params
from skelssl.config import Params, SkeletonMAEGraphParams
from skelssl.masking.body_parts import body_part_mask, part_membership
from skelssl.methods.base import Batch
from skelssl.methods.skeletonmae_graph import SkeletonMAEGraph, sce_loss


def tiny_cfg(**mask) -> SkeletonMAEGraphParams:
    return tiny_method_params("skeletonmae_graph", mask=mask)  # type: ignore[return-value]


def _method_and_batch(seed=0, persons=2, **mask):
    torch.manual_seed(seed)
    method = SkeletonMAEGraph(tiny_cfg(**mask), LAYOUT, frames=4)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, persons, 4, 25, 3, generator=gen)
    return method, Batch(x, torch.rand(3, persons, 4, 25, generator=gen))


def test_finite_loss_and_gradients_reach_encoder_and_mask_token():
    method, batch = _method_and_batch()
    out = method(batch, torch.Generator().manual_seed(1))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    for name, p in method.encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert method.mask_token.grad is not None and method.mask_token.grad.abs().sum() > 0
    assert set(out.logs) >= {"target_var", "pred_var", "masked_pct", "graphs"}
    assert out.logs["graphs"] == 3 * 2 * 4


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 5])
def test_body_part_mask_masks_whole_parts_exactly(parts):
    sizes = [len(j) for j in LAYOUT.parts.values()]
    mask = body_part_mask(2000, LAYOUT, parts, torch.Generator().manual_seed(parts))
    member = part_membership(LAYOUT)
    assert mask.shape == (2000, 25) and mask.dtype == torch.bool
    chosen = (mask.unsqueeze(1) & member).sum(-1) == member.sum(-1)  # (B, P) parts fully masked
    assert (chosen.sum(1) == parts).all()
    # the mask is exactly the union of the chosen parts: count = sum of their sizes
    expected = (chosen.float() * torch.tensor(sizes, dtype=torch.float)).sum(1)
    assert torch.equal(mask.sum(1).float(), expected)
    # every k-subset of parts occurs (uniform without replacement), nothing outside parts is masked
    subsets = {tuple(row.nonzero().flatten().tolist()) for row in chosen}
    assert subsets == set(itertools.combinations(range(len(sizes)), parts))
    covered = member.any(0)
    assert not mask[:, ~covered].any()


def test_body_part_mask_rejects_too_many_parts():
    with pytest.raises(ValueError, match="mask.parts"):
        body_part_mask(4, LAYOUT, len(LAYOUT.parts) + 1, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="mask.parts"):
        body_part_mask(4, LAYOUT, 0, torch.Generator().manual_seed(0))


def test_masked_pct_for_one_part_is_one_parts_fraction():
    method, batch = _method_and_batch(parts=1)
    pct = method(batch, torch.Generator().manual_seed(3)).logs["masked_pct"]
    sizes = [len(joints) for joints in LAYOUT.parts.values()]
    assert 100 * min(sizes) / 25 <= pct <= 100 * max(sizes) / 25


def test_deterministic_under_a_seed():
    m1, batch = _method_and_batch(seed=5)
    m2, _ = _method_and_batch(seed=5)
    l1 = m1(batch, torch.Generator().manual_seed(9)).loss
    l2 = m2(batch, torch.Generator().manual_seed(9)).loss
    l3 = m2(batch, torch.Generator().manual_seed(10)).loss
    assert l1.item() == l2.item() and l1.item() != l3.item()


def test_sce_is_zero_for_perfect_reconstruction_and_grows_with_error():
    target = torch.randn(50, 3)
    assert sce_loss(target * 3.0, target, 2.0).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert sce_loss(-target, target, 2.0).item() == pytest.approx(4.0, rel=1e-5)  # (1 − (−1))²
    ortho = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    assert sce_loss(ortho, ortho.flip(0), 2.0).item() == pytest.approx(1.0)
    noisy = target + 0.3 * torch.randn(50, 3)
    assert 0 < sce_loss(noisy, target, 2.0) < sce_loss(noisy, target, 1.0) < sce_loss(-noisy, target, 2.0)


def test_absent_persons_and_frames_give_no_loss_terms():
    method, batch = _method_and_batch(persons=1)
    with_empty = Batch(torch.cat([batch.x, torch.zeros_like(batch.x)], 1),
                       torch.cat([batch.motion, torch.zeros_like(batch.motion)], 1))
    a = method(batch, torch.Generator().manual_seed(4))
    b = method(with_empty, torch.Generator().manual_seed(4))
    assert a.loss.item() == b.loss.item() and b.logs["graphs"] == 3 * 4
    x = batch.x.clone()
    x[0, 0, 2] = 0  # one empty frame: one graph fewer
    assert method(Batch(x, batch.motion), torch.Generator().manual_seed(4)).logs["graphs"] == 11
    empty = method(Batch(torch.zeros_like(batch.x), batch.motion), torch.Generator().manual_seed(4))
    assert empty.loss.item() == 0.0 and empty.loss.requires_grad


def test_paper_preset_is_the_paper_configuration():
    lines = [ln for ln in (ROOT / "presets/skeletonmae_graph-paper.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    params = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    for line in lines:
        key, _, value = line.partition("=")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[leaf] = YAML(typ="safe", pure=True).load(value)
    p = Params.model_validate(params)
    cfg = p.methods.skeletonmae_graph
    assert p.method == "skeletonmae_graph" and p.preprocess.frames == 64
    assert (cfg.backbone.dim, cfg.backbone.layers, cfg.sce_beta) == (64, 3, 2.0)
    optim = cfg.optim
    assert (optim.name, optim.lr, optim.batch_size, optim.epochs) == ("adam", 1.5e-4, 1024, 50)
