"""Every layout of the registry is a well-formed skeleton, and every method runs on every layout.

Per (method, layout): one training step (forward + backward) on random data with the layout's
joints and channels (COCO-17: 2D), the exported encoder's features, and the backbone spec
round trip (JSON, rebuilt, same outputs).
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers import default_params
from skelssl.backbones import backbone_from_spec, backbone_spec
from skelssl.methods import METHODS, Batch, build_method
from skelssl.methods.base import embedding_spread
from skelssl.skeleton import LAYOUTS, Layout

torch.set_num_threads(1)

FRAMES = 8


# ---------------------------------------------------------------------------- layouts


def _components(layout: Layout) -> int:
    parent = list(range(layout.num_joints))

    def root(v: int) -> int:
        while parent[v] != v:
            v = parent[v]
        return v

    for child, par in layout.bones:
        parent[root(child)] = root(par)
    return len({root(v) for v in range(layout.num_joints)})


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_is_a_tree_with_partitioning_parts(name):
    layout = LAYOUTS[name]
    v = layout.num_joints
    assert layout.name == name
    assert len(set(layout.joint_names)) == v
    # a tree: V − 1 distinct bones between valid, distinct joints, all joints connected
    assert len(layout.bones) == v - 1
    assert len({frozenset(b) for b in layout.bones}) == v - 1
    assert all(0 <= c < v and 0 <= p < v and c != p for c, p in layout.bones)
    assert _components(layout) == 1
    assert 0 <= layout.center < v and 0 <= layout.graph_center < v
    # parts partition the joints
    members = [j for joints in layout.parts.values() for j in joints]
    assert sorted(members) == list(range(v))
    assert len(layout.parts) >= 2
    # left/right pairs: disjoint, distinct joints, named left/right alike
    flat = [j for pair in layout.left_right for j in pair]
    assert len(flat) == len(set(flat)) and all(0 <= j < v for j in flat)
    for left, right in layout.left_right:
        assert layout.joint_names[left].replace("left", "right") == layout.joint_names[right]
    if layout.hips is not None:
        assert tuple(layout.hips) in layout.left_right
    assert layout.channels in (2, 3)


def test_layout_facts():
    assert (LAYOUTS["ntu25"].num_joints, LAYOUTS["kinect20"].num_joints) == (25, 20)
    assert (LAYOUTS["openni15"].num_joints, LAYOUTS["coco17"].num_joints) == (15, 17)
    coco = LAYOUTS["coco17"]
    assert coco.channels == 2 and LAYOUTS["kinect20"].channels == 3
    # graph SkeletonMAE's 6 COCO regions: head 5, torso 4, arms 2 + 2, legs 2 + 2 (methods.md §3.1)
    assert {k: len(j) for k, j in coco.parts.items()} == {
        "head": 5, "torso": 4, "left_arm": 2, "right_arm": 2, "left_leg": 2, "right_leg": 2}
    assert [coco.joint_names[j] for j in coco.parts["torso"]] == [
        "shoulder_left", "shoulder_right", "hip_left", "hip_right"]
    k20 = LAYOUTS["kinect20"]
    assert k20.joint_names[:4] == ("hip_center", "spine", "shoulder_center", "head")
    # Kinect v1 shares NTU-25's (Kinect v2) limb indices 4..19: same limb names, pairs and hips
    ntu = LAYOUTS["ntu25"]
    assert k20.joint_names[4:20] == ntu.joint_names[4:20]
    assert k20.left_right == ntu.left_right[:8] and k20.hips == ntu.hips
    assert LAYOUTS["openni15"].joint_names[LAYOUTS["openni15"].center] == "torso"


# ---------------------------------------------------------------------------- methods


def _tiny(name: str):
    cfg = getattr(default_params().methods, name)
    bb = cfg.backbone
    small = {
        "transformer": {"dim": 16, "depth": 2, "heads": 2, "t_patch": 2},
        "stgcn": {"hidden_channels": 4, "hidden_dim": 16, "temporal_kernel": 3},
        "gin": {"dim": 8, "hidden": 8, "layers": 2},
    }[bb.name]
    update: dict = {"backbone": bb.model_copy(update=small)}
    if hasattr(cfg, "decoder"):
        update["decoder"] = cfg.decoder.model_copy(update={"dim": 16, "depth": 1, "heads": 2})
    if name == "skeleton2vec":
        update["top_k"] = 2
    if name == "pstl":
        update["mask"] = cfg.mask.model_copy(update={"csm_joints": 4, "matm_frames": 2, "matm_random_frames": 2})
        update["projector_dim"] = 16
    return cfg.model_copy(update=update)


def _batch(layout: Layout, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 2, FRAMES, layout.num_joints, layout.channels, generator=gen)
    x[:2, 1] = 0.0  # single-actor samples: the second person is absent
    motion = torch.rand(4, 2, FRAMES, layout.num_joints, generator=gen)
    motion[:2, 1] = 0.0
    return Batch(x, motion)


@pytest.mark.parametrize("layout_name", sorted(LAYOUTS))
@pytest.mark.parametrize("method_name", sorted(METHODS))
def test_method_trains_on_every_layout(method_name, layout_name):
    layout = LAYOUTS[layout_name]
    cfg = _tiny(method_name)
    torch.manual_seed(0)
    method = build_method(method_name, cfg, layout, FRAMES)
    method.train()
    batch = _batch(layout)
    out = method(batch, torch.Generator().manual_seed(1))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    # the collapse diagnostics dvc.yaml's `collapse_diagnostics` plot draws for every method
    assert out.logs["emb_std"] > 0 and 0 < out.logs["emb_norm_std"] < 1
    out.loss.backward()
    grads = [p.grad for p in method.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    method.after_step(1, 10)

    encoder = method.export_encoder().eval()
    with torch.no_grad():
        features = encoder(batch.x)
    assert features.shape == (4, encoder.out_dim) and torch.isfinite(features).all()

    spec = json.loads(json.dumps(backbone_spec(cfg.backbone, layout, FRAMES)))
    rebuilt = backbone_from_spec(spec)
    rebuilt.load_state_dict(encoder.state_dict())  # strict: same shapes, C included
    assert rebuilt.channels == layout.channels
    with torch.no_grad():
        assert torch.allclose(rebuilt.eval()(batch.x), features, atol=1e-6)


def test_wrong_channel_count_fails_loudly():
    """A 3D batch fed to a COCO-17 (2D) encoder is an error, not a silent broadcast."""
    cfg = _tiny("mamp")
    method = build_method("mamp", cfg, LAYOUTS["coco17"], FRAMES)
    x = torch.randn(2, 1, FRAMES, 17, 3)
    with pytest.raises(RuntimeError):
        method.encoder(x)


def test_embedding_spread_tells_spread_from_collapsed_outputs():
    gen = torch.Generator().manual_seed(0)
    spread = embedding_spread(torch.randn(2048, 64, generator=gen))
    assert spread["emb_std"] == pytest.approx(1.0, abs=0.03)
    assert spread["emb_norm_std"] == pytest.approx(64 ** -0.5, rel=0.03)  # unit rows over 64 dims
    one = torch.randn(1, 64, generator=gen)
    assert embedding_spread(one.expand(2048, 64)) == {"emb_std": 0.0, "emb_norm_std": 0.0}
    # one direction, many lengths: the raw spread stays, the normalised one shows the collapse
    scaled = embedding_spread(one * torch.rand(2048, 1, generator=gen) + 0.0)
    assert scaled["emb_std"] > 0.1 and scaled["emb_norm_std"] < 1e-6
