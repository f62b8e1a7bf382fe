"""benchmarks/real/supervised_ceiling.py (its figures are in docs/real-data-tuning.md): the head it
trains is a Linear on exactly the pooled embedding the linear probe reads, for every backbone, and
training it changes that encoder's weights while the random twin it starts from stays as it was."""

from __future__ import annotations

import pytest
import torch

from helpers import default_params, load_real_benchmark
from skelssl.backbones import backbone_spec, random_backbone
from skelssl.evaluation.features import extract_features
from skelssl.evaluation.finetune import finetune
from skelssl.evaluation.heads import PooledClassifier, build_classifier
from skelssl.skeleton import KINECT20

FRAMES = 16


def _twin(method: str) -> torch.nn.Module:
    spec = backbone_spec(getattr(default_params().methods, method).backbone, KINECT20, FRAMES)
    return random_backbone(spec, 3)


def _clips(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 2, FRAMES, KINECT20.num_joints, 3, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", ["mamp", "skeleton2vec", "pstl", "skeletonmae_graph"])
def test_the_head_reads_the_probe_features(method):
    sc = load_real_benchmark("supervised_ceiling")
    twin = _twin(method)
    model = build_classifier(sc.POOLED_HEAD, twin, 4, 0.0, 2).eval()
    assert isinstance(model, PooledClassifier)
    x = _clips(6, 0)
    probe_features = extract_features(model.encoder, x, 4, torch.device("cpu"))
    with torch.no_grad():
        assert torch.allclose(model(x), model.head(probe_features), atol=1e-5)
        assert torch.allclose(probe_features, extract_features(twin, x, 4, torch.device("cpu")), atol=1e-6)


def test_training_moves_the_encoder_and_leaves_the_twin():
    sc = load_real_benchmark("supervised_ceiling")
    twin = _twin("mamp")
    before = {k: v.clone() for k, v in twin.state_dict().items()}
    x, y = _clips(8, 1), torch.arange(8) % 4
    recipe = default_params().evaluate.finetune.recipe("transformer")
    result = finetune(twin, sc.POOLED_HEAD, (x, y), (x, y), 4, recipe, 2, torch.Generator().manual_seed(0),
                      torch.device("cpu"), "supervised", keep_model=True)
    assert all(torch.equal(before[k], v) for k, v in twin.state_dict().items())
    trained = result.model.encoder.state_dict()
    assert any(not torch.equal(before[k], trained[k]) for k in before if before[k].is_floating_point())
