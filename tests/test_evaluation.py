import pytest
import torch

from helpers import default_params
from skelssl.evaluation.features import topk_accuracy
from skelssl.evaluation.knn import knn_predict
from skelssl.evaluation.linear import linear_probe


def _separable(n_per_class=40, classes=5, dim=16, seed=0):
    """Gaussian clusters around fixed centres (the same for every seed), noise drawn from `seed`."""
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(123)) * 4
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = centres[y] + 0.3 * torch.randn(len(y), dim, generator=torch.Generator().manual_seed(seed))
    return x, y


def test_linear_probe_solves_separable_features():
    x, y = _separable(seed=0)
    tx, ty = _separable(seed=1)
    cfg = default_params().evaluate.linear
    result = linear_probe(x, y, tx, ty, 5, cfg, torch.Generator().manual_seed(0))
    assert result.top1 >= 99.0
    assert result.top5 == 100.0
    assert result.predictions.shape == ty.shape


def test_linear_probe_never_sees_the_test_labels():
    """Same training data and seed, two different test-label vectors: identical predictions, and
    each score is those predictions checked against its own labels."""
    x, y = _separable(seed=0)
    tx, ty = _separable(seed=1)
    cfg = default_params().evaluate.linear.model_copy(update={"epochs": 5})
    shuffled = ty[torch.randperm(len(ty), generator=torch.Generator().manual_seed(3))]
    a = linear_probe(x, y, tx, ty, 5, cfg, torch.Generator().manual_seed(0))
    b = linear_probe(x, y, tx, shuffled, 5, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(a.predictions, b.predictions)
    assert a.top1 == pytest.approx(100.0 * (a.predictions == ty).double().mean().item()) == 100.0
    assert b.top1 == pytest.approx(100.0 * (b.predictions == shuffled).double().mean().item())
    assert b.top1 < 50.0


def test_knn_solves_separable_features():
    x, y = _separable()
    scores = knn_predict(x[::2], y[::2], x[1::2], 5, k=5, temperature=0.07)
    assert topk_accuracy(scores, y[1::2], 1) == 100.0


def test_knn_weights_votes_by_similarity():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.1]])
    labels = torch.tensor([0, 1, 1])
    scores = knn_predict(train, labels, torch.tensor([[1.0, 0.05]]), 2, k=3, temperature=0.1)
    assert scores.argmax().item() == 0  # one very close neighbour beats two far ones


def test_topk_accuracy():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    assert topk_accuracy(logits, labels, 1) == 100.0 / 3
    assert round(topk_accuracy(logits, labels, 2), 4) == round(200.0 / 3, 4)


def test_linear_probe_depends_only_on_its_generator():
    x, y = _separable(seed=0, dim=8)
    tx, ty = _separable(seed=1, dim=8)
    cfg = default_params().evaluate.linear.model_copy(update={"epochs": 2, "lr": 0.01})
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # the global RNG must not matter
        runs.append(linear_probe(x, y, tx, ty, 5, cfg, torch.Generator().manual_seed(0)))
    assert torch.equal(runs[0].predictions, runs[1].predictions)
    assert runs[0].top1 == runs[1].top1
