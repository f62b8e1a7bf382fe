"""Train-time temporal augmentation (MAMP's random crop, Skeleton2vec's uniform segments), the
augmented linear probe with its best epoch, and old ST-GCN checkpoint specs."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import torch
from rich.console import Console
from torch import nn

from skelssl.augment import _mamp_crop_positions, _segment_indices, clip_spans, temporal_augment
from skelssl.config import LinearParams, ProbeAugment, STGCNParams, TemporalAugment
from skelssl.kernels.resample import crop_resize

CROP = TemporalAugment(kind="random_crop", min_ratio=0.5, max_ratio=1.0, min_frames=64)  # MAMP
SEGMENTS = TemporalAugment(kind="uniform_segments", min_ratio=0.5, max_ratio=1.0, min_frames=64)
CENTER = TemporalAugment(kind="center", min_ratio=0.5, max_ratio=1.0, min_frames=64)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clips(n: int = 6, frames: int = 16) -> torch.Tensor:
    return torch.randn(n, 2, frames, 25, 3, generator=_gen(0))


@pytest.mark.parametrize("cfg", [CROP, SEGMENTS], ids=["random_crop", "uniform_segments"])
def test_draw_is_deterministic_given_the_generator_and_keeps_the_shape(cfg):
    x = _clips()
    spans = clip_spans(torch.tensor([10, 40, 70, 200, 16, 33]), 0.95)
    a = temporal_augment(x, cfg, _gen(1), spans)
    b = temporal_augment(x, cfg, _gen(1), spans)
    c = temporal_augment(x, cfg, _gen(2), spans)
    assert a.shape == x.shape  # T frames out
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_center_is_the_preprocessed_clip_and_draws_nothing():
    x, gen = _clips(), _gen(3)
    state = gen.get_state()
    assert temporal_augment(x, CENTER, gen) is x
    assert torch.equal(gen.get_state(), state)


def test_random_crop_lies_within_the_valid_frames_and_covers_half_to_all():
    f, frames, n = 1000, 100, 4000
    cfg = CROP.model_copy(update={"min_frames": 1})
    spans = clip_spans(torch.full((n,), f), 1.0)
    pos = _mamp_crop_positions(spans, frames, cfg, _gen(4))
    assert pos.shape == (n, frames)
    assert pos.min() >= 0 and pos.max() <= f - 1
    assert torch.all(pos.diff(dim=1) >= 0)  # in order: a contiguous window resized
    ratio = (pos[:, -1] - pos[:, 0]) / f  # (L - L/T) / F
    assert ratio.min() >= 0.5 - 0.02 and ratio.max() <= 1.0
    assert ratio.min() < 0.52 and ratio.max() > 0.97  # the whole [0.5, 1] range is drawn
    start = pos[:, 0]
    assert start.min() < 5 and (pos[:, -1]).max() > f - 6  # windows reach both ends


def test_random_crop_keeps_mamps_64_frame_lower_bound():
    pos = _mamp_crop_positions(clip_spans(torch.full((500,), 80), 1.0), 120, CROP, _gen(5))
    length = (pos[:, -1] - pos[:, 0]) * 120 / 119 + 80 / 120  # back from the resize to L
    assert length.min() >= 64 - 1e-6  # floor(80 p) < 64 for p < 0.8: clamped to 64
    short = _mamp_crop_positions(clip_spans(torch.full((50,), 40), 1.0), 120, CROP, _gen(6))
    assert torch.allclose(short[:, -1], torch.full((50,), 39.0, dtype=torch.float64))  # F < 64: all frames


def test_segments_follow_uniform_sample_decode():
    gen = _gen(7)
    few = _segment_indices(30, 90, gen)  # F < T: loop from a random start
    assert torch.equal(few, (few[0] + torch.arange(90)) % 30)
    mid = _segment_indices(120, 90, gen)  # T <= F < 2T: 90 distinct frames in order
    assert len(mid.unique()) == 90 and torch.all(mid.diff() >= 1) and mid.max() < 120
    many = _segment_indices(300, 90, gen)  # F >= 2T: one frame in each segment
    bounds = torch.arange(91) * 300 // 90
    assert torch.all(many >= bounds[:-1]) and torch.all(many < bounds[1:])
    assert torch.equal(_segment_indices(90, 90, gen), torch.arange(90))


def _ramp_clip(f: int, frames: int, crop_ratio: float) -> torch.Tensor:
    """The preprocessed clip of an original clip whose value at frame t is t (+1, never zero)."""
    original = (np.arange(f, dtype=np.float32) + 1)[:, None, None, None].repeat(3, axis=3)
    clip = crop_resize(original, frames, crop_ratio)  # (T, 1, 1, 3)
    return torch.from_numpy(clip).permute(1, 0, 2, 3)[None]  # (1, M=1, T, V=1, C=3)


@pytest.mark.parametrize("cfg", [CROP, SEGMENTS], ids=["random_crop", "uniform_segments"])
def test_draws_are_made_on_the_original_valid_frames(cfg):
    """The draws are original frame positions, mapped onto the preprocessed clip: on a ramp
    upsampled by preprocessing, the output values are those positions (clamped to the centre band)."""
    f, frames, ratio = 80, 120, 0.95
    x = _ramp_clip(f, frames, ratio).expand(64, -1, -1, -1, -1).contiguous()
    spans = clip_spans(torch.full((64,), f), ratio)
    out = temporal_augment(x, cfg, _gen(8), spans)[:, 0, :, 0, 0].double() - 1
    if cfg.kind == "random_crop":
        want = _mamp_crop_positions(spans, frames, cfg, _gen(8))
    else:
        gen = _gen(8)
        want = torch.stack([_segment_indices(f, frames, gen) for _ in range(64)]).double()
    bias = int((1 - ratio) * f / 2)
    assert out.min() >= bias - 1e-6 and out.max() <= f - 1 - bias + 1e-6  # inside the centre band
    # exact a frame away from the band's edges (within half a clip frame of them, the preprocessed
    # clip itself holds its edge frame: crop_resize clamps)
    inner = (want >= bias + 1) & (want <= f - 2 - bias)
    assert inner.float().mean() > 0.8
    assert torch.allclose(out[inner], want[inner], atol=1e-4)


def test_without_spans_the_preprocessed_frames_are_the_valid_frames():
    x = _clips(frames=32)
    out = temporal_augment(x, SEGMENTS, _gen(9))
    assert torch.equal(out, x)  # T of T frames: the identity
    crop = temporal_augment(x, CROP.model_copy(update={"min_frames": 1}), _gen(9))
    assert crop.shape == x.shape and not torch.equal(crop, x)


def test_augmentation_runs_on_the_generators_device():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    x = _clips().cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    spans = clip_spans(torch.tensor([10, 40, 70, 200, 16, 33]), 0.95).cuda()
    for cfg in (CROP, SEGMENTS):
        assert temporal_augment(x, cfg, gen, spans).device == x.device


# ---------------------------------------------------------------------------- probe


PROBE = LinearParams(head="bn_linear", optimizer="sgd", epochs=4, batch_size=8, lr=0.1, momentum=0.9,
                     weight_decay=0.0, schedule="cosine",
                     augment=ProbeAugment(kind="none", temporal=CROP, rotation=0.3))


class _Pool(nn.Module):
    """A frozen stand-in encoder: mean over persons and joints, then frames flattened."""

    out_dim = 16 * 3

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(dim=(1, 3))).flatten(1)


def _tiny_data():
    gen = _gen(10)
    y = torch.arange(24) % 3
    x = torch.randn(24, 2, 16, 5, 3, generator=gen) * 0.3 + y.view(-1, 1, 1, 1, 1).float()
    return x, y


def test_augmented_probe_runs_and_reports_the_best_epoch():
    from skelssl.evaluation.features import extract_augmented_features, extract_features
    from skelssl.evaluation.linear import linear_probe

    x, y = _tiny_data()
    torch.manual_seed(0)
    encoder = _Pool()
    aug = ProbeAugment(kind="crop_rotate", temporal=CROP.model_copy(update={"min_frames": 4}), rotation=0.3)
    spans = clip_spans(torch.full((24,), 40), 0.95)
    seen = []

    def features(epoch: int) -> torch.Tensor:
        seen.append(epoch)
        return extract_augmented_features(encoder, x, 8, torch.device("cpu"), aug, _gen(100 + epoch), spans)

    f_test = extract_features(encoder, x, 8, torch.device("cpu"))
    cfg = PROBE.model_copy(update={"augment": aug})
    result = linear_probe(features, y, f_test, y, 3, cfg, _gen(11))
    assert seen == [0, 1, 2, 3]  # fresh augmented features every epoch
    assert not torch.equal(features(0), features(1))
    assert 1 <= result.best_epoch <= cfg.epochs
    assert result.best_top1 >= result.top1
    again = linear_probe(features, y, f_test, y, 3, cfg, _gen(11))
    assert again.top1 == result.top1 and torch.equal(again.logits, result.logits)


def test_augmented_probe_reports_its_epochs_off_a_terminal(monkeypatch):
    """The slow (augmented) probe reports progress like the other long loops: off a terminal (dvc exp
    queue, CI) plain `skelssl` log lines through `skelssl.console.track`."""
    from skelssl.console import log
    from skelssl.evaluation.features import extract_augmented_features, extract_features
    from skelssl.evaluation.linear import linear_probe

    monkeypatch.setattr("skelssl.console.console", Console(file=io.StringIO(), force_terminal=False))
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # this test's own handler: independent of what earlier tests set up
    x, y = _tiny_data()
    encoder = _Pool()
    aug = ProbeAugment(kind="crop_rotate", temporal=CROP.model_copy(update={"min_frames": 4}), rotation=0.3)
    spans = clip_spans(torch.full((24,), 40), 0.95)
    f_test = extract_features(encoder, x, 8, torch.device("cpu"))
    cfg = PROBE.model_copy(update={"augment": aug})
    level = log.level
    log.setLevel(logging.INFO)  # setLevel, not the attribute: it also clears the logger's level cache
    log.addHandler(handler)
    try:
        linear_probe(lambda epoch: extract_augmented_features(encoder, x, 8, torch.device("cpu"), aug,
                                                              _gen(100 + epoch), spans),
                     y, f_test, y, 3, cfg, _gen(11))
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    lines = [r.getMessage() for r in records]
    assert lines == [f"linear probe epochs: {k}/{cfg.epochs}" for k in range(1, cfg.epochs + 1)]


def test_default_probe_path_is_unchanged():
    """Fixed features: the per-epoch test pass does not change what the head learns."""
    from skelssl.evaluation.linear import linear_probe, train_linear_head

    gen = _gen(12)
    f = torch.randn(30, 6, generator=gen)
    y = torch.arange(30) % 3
    head = train_linear_head(f, y, 3, PROBE, _gen(13))
    with torch.no_grad():
        logits = head(f)
    result = linear_probe(f, y, f, y, 3, PROBE, _gen(13))
    assert torch.equal(result.logits, logits)
    assert result.best_top1 >= result.top1 and 1 <= result.best_epoch <= PROBE.epochs
    as_function = linear_probe(lambda epoch: f, y, f, y, 3, PROBE, _gen(13))
    assert torch.equal(as_function.logits, logits)


# ---------------------------------------------------------------------------- old checkpoints


def test_stgcn_spec_without_partition_loads_as_true_distance():
    from skelssl.backbones import backbone_from_spec, backbone_spec, build_backbone
    from skelssl.skeleton import LAYOUTS

    layout = LAYOUTS["ntu25"]
    cfg = STGCNParams(name="stgcn", hidden_channels=4, hidden_dim=16, temporal_kernel=3, dropout=0.0,
                      edge_importance=True, partition="true_distance")
    spec = backbone_spec(cfg, layout, 8)
    old = {**spec, "config": {k: v for k, v in spec["config"].items() if k != "partition"}}
    torch.manual_seed(0)
    want = build_backbone(cfg, layout, 8)
    got = backbone_from_spec(old)
    assert got.cfg.partition == "true_distance"
    got.load_state_dict(want.state_dict())  # same parameters and buffers (the partition's adjacency)
    for name, buf in want.named_buffers():
        assert torch.equal(dict(got.named_buffers())[name], buf), name
    new = backbone_from_spec({**spec, "config": {**spec["config"], "partition": "reference"}})
    assert new.cfg.partition == "reference"  # a stored partition is kept
