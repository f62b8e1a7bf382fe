import json

import polars as pl
import pytest
import torch

from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.errors import ParamsError
from skelssl.evaluation.robustness import (CurvePoint, area_under_curve, drop_joints,
                                           robustness_curve, sample_dropped)
from skelssl.pipeline import robustness as robustness_stage
from skelssl.io import load_encoder
from skelssl.pipeline.dataset import load_processed
from skelssl.pipeline.robustness import curve_metrics
from skelssl.repro import derive_seed
from skelssl.skeleton import NTU25
from tiny_eval import TRAIN, tiny_encoder, tiny_params, tiny_processed

torch.set_num_threads(1)


def _clips(n=40):
    """Clips with no zero coordinate, so a zeroed joint is one that was dropped."""
    return torch.rand(n, 2, 5, 25, 3, generator=torch.Generator().manual_seed(0)) + 0.5


@pytest.mark.parametrize("mode", ["random", "centrality"])
@pytest.mark.parametrize("k", [1, 4, 12, 25])
def test_exactly_k_distinct_joints_zeroed_in_every_frame_and_person(mode, k):
    x = _clips()
    out = drop_joints(x, k, mode, torch.Generator().manual_seed(1), NTU25)
    zero = (out == 0).all(dim=(1, 2, 4))  # (N, V): joint zero in every person, frame, coordinate
    touched = (out != x).any(dim=(1, 2, 4))  # joint changed anywhere
    assert torch.equal(zero, touched)  # a joint is either dropped everywhere or left untouched
    assert zero.sum(dim=1).tolist() == [k] * len(x)
    assert torch.equal(out[~zero[:, None, None, :, None].expand_as(x)], x[~zero[:, None, None, :, None].expand_as(x)])


def test_k_zero_is_identity_and_input_untouched():
    x = _clips()
    before = x.clone()
    for mode in ("random", "centrality"):
        out = drop_joints(x, 0, mode, torch.Generator().manual_seed(0), NTU25)
        assert torch.equal(out, x)
    drop_joints(x, 5, "random", torch.Generator().manual_seed(0), NTU25)
    assert torch.equal(x, before)


def test_clips_get_different_joints():
    dropped = sample_dropped(200, 3, "random", torch.Generator().manual_seed(0), NTU25)
    assert len({tuple(sorted(row)) for row in dropped.tolist()}) > 150


def test_centrality_sampling_follows_node_degree():
    n = 48_000
    deg = torch.tensor(NTU25.degrees(), dtype=torch.float64)
    assert deg.sum() == 48 and deg[20] == 4 and deg[0] == 3 and deg[3] == 1
    first = sample_dropped(n, 1, "centrality", torch.Generator().manual_seed(0), NTU25)[:, 0]
    freq = torch.bincount(first, minlength=25).double() / n
    # binomial std of a frequency p is sqrt(p(1-p)/n) <= 0.0013 here; allow ~4 std
    torch.testing.assert_close(freq, deg / 48, atol=0.005, rtol=0)
    assert freq[20] > 3 * freq[3]  # the spine-shoulder hub is drawn ~4x as often as the head
    random_first = sample_dropped(n, 1, "random", torch.Generator().manual_seed(0), NTU25)[:, 0]
    torch.testing.assert_close(torch.bincount(random_first, minlength=25).double() / n,
                               torch.full((25,), 1 / 25, dtype=torch.float64), atol=0.005, rtol=0)
    # with k = 6 the dropped joints are still hubs more often than under uniform drawing
    six_c = sample_dropped(4000, 6, "centrality", torch.Generator().manual_seed(1), NTU25)
    six_r = sample_dropped(4000, 6, "random", torch.Generator().manual_seed(1), NTU25)
    assert deg[six_c].mean() > deg[six_r].mean() + 0.1


def test_drops_are_deterministic_per_generator():
    x = _clips()
    a = drop_joints(x, 3, "centrality", torch.Generator().manual_seed(5), NTU25)
    b = drop_joints(x, 3, "centrality", torch.Generator().manual_seed(5), NTU25)
    c = drop_joints(x, 3, "centrality", torch.Generator().manual_seed(6), NTU25)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_bad_arguments_fail_with_a_message():
    x = _clips(2)
    with pytest.raises(ValueError, match="cannot drop 26 distinct joints"):
        drop_joints(x, 26, "random", torch.Generator(), NTU25)
    with pytest.raises(ValueError, match="unknown drop mode 'hubs'"):
        drop_joints(x, 1, "hubs", torch.Generator(), NTU25)
    with pytest.raises(ValueError, match=r"\(N, M, T, 25, C\)"):
        drop_joints(x[..., :10, :], 1, "random", torch.Generator(), NTU25)


def test_area_under_curve_is_the_mean_accuracy_over_the_k_range():
    points = [CurvePoint("random", 0, 80.0, 0.0), CurvePoint("random", 4, 60.0, 0.0),
              CurvePoint("random", 2, 70.0, 0.0)]
    assert area_under_curve(points) == pytest.approx(70.0)
    uneven = [CurvePoint("r", 0, 100.0, 0.0), CurvePoint("r", 1, 50.0, 0.0), CurvePoint("r", 3, 50.0, 0.0)]
    assert area_under_curve(uneven) == pytest.approx((75.0 + 2 * 50.0) / 3)
    assert area_under_curve([CurvePoint("r", 2, 42.0, 0.0)]) == 42.0


def test_curve_points_and_stage_outputs(tmp_path, monkeypatch):
    params = tiny_params(robustness={"drop": [0, 2, 25], "modes": ["random", "centrality"], "repeats": 2})
    tiny_processed(tmp_path / "processed")
    tiny_encoder(tmp_path / "encoder.pt", params)
    encoders_used = []

    def recording_curve(encoder, *args):
        encoders_used.append({k: v.clone() for k, v in encoder.state_dict().items()})
        return robustness_curve(encoder, *args)

    monkeypatch.setattr(robustness_stage, "robustness_curve", recording_curve)
    robustness_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "out")
    monkeypatch.undo()
    assert len(encoders_used) == 2  # the pretrained encoder, then the random-init one
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # metrics: one AUC per mode and encoder; the curve's points are in curve.csv only
    assert list(metrics) == ["auc", "random_init"] and list(metrics["auc"]) == ["random", "centrality"]
    curve = pl.read_csv(tmp_path / "out" / "curve.csv")
    assert curve.columns == ["k", "random", "random_std", "centrality", "centrality_std",
                             "random_random_init", "random_random_init_std",
                             "centrality_random_init", "centrality_random_init_std"]
    assert curve["k"].to_list() == [0, 2, 25]
    points = {mode: dict(zip(["k=0", "k=2", "k=25"], curve[mode].round(2).to_list(), strict=True))
              for mode in ("random", "centrality")}
    assert points["random"]["k=0"] == points["centrality"]["k=0"]  # the clean test set, no draw
    # with every joint dropped each test clip is the zero clip: one prediction for all 12
    n_test = 36 - TRAIN
    assert points["random"]["k=25"] == points["centrality"]["k=25"]
    assert points["random"]["k=25"] == round(100 * 4 / n_test, 2)  # 4 test clips per class
    for mode in ("random", "centrality"):
        r = points[mode]
        expected = ((r["k=0"] + r["k=2"]) * 2 / 2 + (r["k=2"] + r["k=25"]) * 23 / 2) / 25
        assert metrics["auc"][mode] == pytest.approx(expected, abs=0.02)
    assert curve["random_std"][0] == 0.0 and curve["random_std"][2] == 0.0  # no randomness at k=0, 25

    # the random-init baseline: the same curve (every mode and k) for the evaluate stage's random encoder
    baseline = metrics["random_init"]
    assert list(baseline) == ["auc"] and list(baseline["auc"]) == ["random", "centrality"]
    base_points = {mode: curve[f"{mode}_random_init"].round(2).to_list() for mode in ("random", "centrality")}
    for mode in ("random", "centrality"):
        assert all(0.0 <= v <= 100.0 for v in base_points[mode])
    assert base_points["random"][0] == base_points["centrality"][0]
    assert base_points["random"][2] == base_points["centrality"][2] == round(100 * 4 / n_test, 2)
    checkpoint = load_encoder(tmp_path / "encoder.pt")
    random_encoder = random_backbone(checkpoint["backbone"], derive_seed(params.base.seed, "random_init"))
    data = load_processed(tmp_path / "processed")
    tr, _, ty = data.split("xsub", True)
    te, _, ey = data.split("xsub", False)
    direct = robustness_curve(random_encoder, tr, ty, te, ey, 3, NTU25, params.evaluate.robustness,
                              params.evaluate.linear, 16, torch.device("cpu"), params.base.seed)
    assert curve_metrics(direct) == baseline  # that encoder, that recipe
    assert [round(p.top1, 2) for p in direct if p.mode == "random"] == base_points["random"]
    # (on this easy task both encoders score alike, so check which encoders the stage used)
    pretrained_used, random_used = encoders_used
    assert all(torch.equal(v, checkpoint["state_dict"][k]) for k, v in pretrained_used.items())
    assert all(torch.equal(v, random_encoder.state_dict()[k]) for k, v in random_used.items())
    assert not torch.equal(random_used["patch_embed.weight"], pretrained_used["patch_embed.weight"])

    # determinism: a second run writes identical files
    torch.manual_seed(99)  # the global RNG must not matter
    robustness_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "again")
    for name in ("metrics.json", "curve.csv"):
        assert (tmp_path / "again" / name).read_text() == (tmp_path / "out" / name).read_text()

    encoder = backbone_from_checkpoint(checkpoint)
    cfg = params.evaluate.robustness.model_copy(update={"drop": [2], "modes": ["centrality"]})
    again = robustness_curve(encoder, tr, ty, te, ey, 3, NTU25, cfg, params.evaluate.linear, 16,
                             torch.device("cpu"), params.base.seed)
    assert [(p.mode, p.k) for p in again] == [("centrality", 2)]
    assert round(again[0].top1, 2) == points["centrality"]["k=2"]  # each point reproducible alone


def test_stage_rejects_more_joints_than_the_layout_has(tmp_path):
    params = tiny_params(robustness={"drop": [0, 30]})
    tiny_processed(tmp_path / "processed")
    with pytest.raises(ParamsError, match="evaluate.robustness.drop: 30 exceeds the 25 joints"):
        robustness_stage.run(params, tmp_path / "processed", tmp_path / "missing.pt", tmp_path / "out")
