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
    assert (cfg.mask.parts, cfg.decoder_layers) == (2, "auto")
    optim = cfg.optim
    assert (optim.name, optim.lr, optim.batch_size, optim.epochs) == ("adam", 1.5e-4, 1024, 50)


# --- reach: every masked joint within encoder + decoder GIN hops of a visible joint ---


def test_masked_reach_on_ntu25_with_the_papers_depths():
    from skelssl.masking.body_parts import masked_reach, max_masked_reach
    from skelssl.skeleton import NTU25

    reach = masked_reach(NTU25, 2)
    assert len(reach) == 15
    assert sum(r > 4 for r in reach.values()) == 11  # beyond 3 encoder + 1 decoder hops
    assert max(reach.values()) == 7 and reach[("torso", "left_arm")] == 7
    assert reach[("torso", "left_leg")] == 6 and reach[("left_arm", "right_leg")] == 5
    assert reach[("left_leg", "right_leg")] == 3
    assert masked_reach(NTU25, 1)[("right_arm",)] == 5  # the hand tip, 5 bones from the spine shoulder
    assert max_masked_reach(NTU25, 6) == float("inf")  # nothing visible


def test_papers_coco17_regions_are_reached_by_its_three_plus_one_layers():
    from skelssl.masking.body_parts import max_masked_reach
    from skelssl.skeleton import COCO17

    assert [max_masked_reach(COCO17, k) for k in (1, 2, 3)] == [3, 4, 4]


@pytest.mark.parametrize("layout_name", list(__import__("skelssl.skeleton", fromlist=["LAYOUTS"]).LAYOUTS))
def test_default_configuration_reaches_every_masked_joint(layout_name):
    from helpers import default_params
    from skelssl.masking.body_parts import max_masked_reach
    from skelssl.methods.skeletonmae_graph import decoder_depth
    from skelssl.skeleton import LAYOUTS

    layout = LAYOUTS[layout_name]
    cfg = default_params().methods.skeletonmae_graph
    depth = decoder_depth(cfg, layout)
    assert cfg.backbone.layers + depth >= max_masked_reach(layout, cfg.mask.parts)
    assert depth == {"ntu25": 4, "kinect20": 3}.get(layout_name, 1)  # 1 = the paper's decoder
    method = SkeletonMAEGraph(cfg, layout, frames=4)
    assert len(method.decoder.layers) == depth


def _prediction_gradient(decoder_layers):
    """|d prediction(left hand tip) / d visible inputs| with torso + left arm masked (reach 7)."""
    from skelssl.skeleton import NTU25

    cfg = tiny_cfg().model_copy(update={
        "backbone": tiny_cfg().backbone.model_copy(update={"layers": 3}), "decoder_layers": decoder_layers})
    torch.manual_seed(0)
    method = SkeletonMAEGraph(cfg, NTU25, frames=4)
    x = torch.randn(1, 25, 3, requires_grad=True)
    masked = torch.zeros(1, 25, dtype=torch.bool)
    masked[0, list(NTU25.parts["torso"]) + list(NTU25.parts["left_arm"])] = True
    features = method.encoder.embed(x)
    features = torch.where(masked.unsqueeze(-1), method.mask_token, features)
    codes = method.encoder_to_decoder(method.encoder.encode_nodes(features))
    recon = method.decoder(codes, method.encoder.adj)
    recon[0, NTU25.joint_names.index("handtip_left")].sum().backward()
    return x.grad[0][~masked[0]].abs().sum().item()


def test_auto_decoder_makes_the_farthest_masked_joint_depend_on_the_input():
    assert _prediction_gradient(1) == 0.0  # the paper's 3 + 1 hops: a constant prediction
    assert _prediction_gradient("auto") > 0.0  # 3 + 4 hops reach the hand tip
