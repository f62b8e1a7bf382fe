import pytest
import torch

from skelssl.evaluation.subsets import label_subset
from skelssl.repro import derive_seed

# class sizes 40, 25, 10, 3, 1 (79 clips), shuffled so classes are interleaved
_COUNTS = [40, 25, 10, 3, 1]
LABELS = torch.repeat_interleave(torch.arange(5), torch.tensor(_COUNTS))[
    torch.randperm(79, generator=torch.Generator().manual_seed(7))]


def _per_class(idx: torch.Tensor) -> list[int]:
    return torch.bincount(LABELS[idx], minlength=5).tolist()


def test_balanced_subset_has_exact_per_class_counts():
    # round(0.1 * n): 4, 2 (2.5 rounds half to even), 1, 0 → 1, 0 → 1
    idx = label_subset(LABELS, 0.1, balanced=True, seed=0)
    assert _per_class(idx) == [4, 2, 1, 1, 1]
    assert _per_class(label_subset(LABELS, 0.5, balanced=True, seed=0)) == [20, 12, 5, 2, 1]
    assert _per_class(label_subset(LABELS, 1.0, balanced=True, seed=0)) == _COUNTS


def test_plain_random_subset_size():
    assert len(label_subset(LABELS, 0.1, balanced=False, seed=0)) == 8  # round(7.9)
    assert len(label_subset(LABELS, 0.01, balanced=False, seed=0)) == 1  # round(0.79), at least 1
    assert len(label_subset(LABELS, 0.005, balanced=False, seed=0)) == 1  # round(0.395) = 0 → 1


@pytest.mark.parametrize("balanced", [True, False])
def test_subset_is_sorted_unique_and_identical_across_calls(balanced):
    a = label_subset(LABELS, 0.3, balanced, seed=derive_seed(0, "semi/0.3/0"))
    torch.manual_seed(123)  # the global RNG must not matter
    b = label_subset(LABELS, 0.3, balanced, seed=derive_seed(0, "semi/0.3/0"))
    torch.manual_seed(456)
    torch.rand(10)
    c = label_subset(LABELS, 0.3, balanced, seed=derive_seed(0, "semi/0.3/0"))
    assert a.dtype == torch.int64
    assert torch.equal(a, b) and torch.equal(a, c)
    assert torch.equal(a, a.unique())  # sorted, no duplicates
    assert int(a.min()) >= 0 and int(a.max()) < len(LABELS)


def test_subset_depends_on_the_seed():
    draws = {tuple(label_subset(LABELS, 0.3, True, seed=s).tolist()) for s in range(5)}
    assert len(draws) == 5
    plain = {tuple(label_subset(LABELS, 0.3, False, seed=s).tolist()) for s in range(5)}
    assert len(plain) == 5


def test_subset_ignores_the_label_dtype():
    # labels given as int32 select the same clips as int64 labels
    a = label_subset(LABELS.to(torch.int32), 0.2, True, seed=3)
    assert torch.equal(a, label_subset(LABELS, 0.2, True, seed=3))


def test_subset_rejects_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        label_subset(LABELS, 0.0, True, seed=0)
    with pytest.raises(ValueError, match="fraction"):
        label_subset(LABELS, 1.5, False, seed=0)
    with pytest.raises(ValueError, match="1-D"):
        label_subset(LABELS.view(1, -1), 0.5, True, seed=0)
