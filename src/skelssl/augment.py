"""Stochastic augmentations in torch, on the training device, with an explicit generator."""

from __future__ import annotations

import torch

from skelssl.config import TemporalAugment


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """angles (N, 3) around x, y, z (radians) → rotation matrices (N, 3, 3) = Rz·Ry·Rx."""
    cx, cy, cz = angles.cos().unbind(-1)
    sx, sy, sz = angles.sin().unbind(-1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def random_rotation(x: torch.Tensor, max_angle: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each sample (N, M, T, V, C) by angles U(−max_angle, max_angle) on every axis.

    One rotation per sample, shared by all its persons and frames (MAMP's feeder); zero
    (absent) joints stay zero since rotation is linear. 2D keypoints (C = 2) get the same draw,
    applied to (x, y, 0) and projected back on the image plane: the top-left 2×2 block of the
    rotation (our choice for 2D layouts; 3D data is unchanged by it).
    """
    if max_angle == 0:
        return x
    angles = (torch.rand(x.shape[0], 3, generator=generator, device=x.device) * 2 - 1) * max_angle
    c = x.shape[-1]
    rot = rotation_matrices(angles).to(x.dtype)[:, :c, :c]
    return torch.einsum("nij,nmtvj->nmtvi", rot, x)


# ---------------------------------------------------------------------------- temporal


def clip_spans(frames: torch.Tensor, crop_ratio: float) -> torch.Tensor:
    """(N,) valid-frame counts F of the original clips → (N, 3) long [F, first, length]: the span
    of original frames the preprocessed clip was resampled from (`skelssl.kernels.resample.
    crop_resize`: `bias = int((1 - crop_ratio) * F / 2)` frames dropped at each end)."""
    f = frames.long()
    bias = ((1.0 - crop_ratio) * f.double() / 2).long()
    return torch.stack([f, bias, (f - 2 * bias).clamp(min=1)], dim=1)


def _mamp_crop_positions(spans: torch.Tensor, frames: int, cfg: TemporalAugment,
                         generator: torch.Generator) -> torch.Tensor:
    """MAMP's train-time `valid_crop_resize` ([MAMP-code] feeder/tools.py), per sample: p ~ U(a, b),
    L = clamp(floor(F·p), min_frames, F), start ~ U{0..F−L}; output frame i samples the original
    position start + clamp((i + 0.5)·L/T − 0.5, 0, L − 1) (bilinear, align_corners=False).
    Returns (N, T) float positions in original frames."""
    n, device = len(spans), spans.device
    f = spans[:, 0].double()
    p = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    p = cfg.min_ratio + (cfg.max_ratio - cfg.min_ratio) * p
    length = torch.minimum(torch.clamp((f * p).floor(), min=float(cfg.min_frames)), f).clamp(min=1)
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    start = torch.minimum((u * (f - length + 1)).floor(), f - length)
    i = torch.arange(frames, device=device, dtype=torch.float64)
    src = (i[None] + 0.5) * (length[:, None] / frames) - 0.5
    src = torch.minimum(src.clamp(min=0), (length - 1)[:, None])
    return start[:, None] + src


def _segment_indices(f: int, frames: int, generator: torch.Generator) -> torch.Tensor:
    """Skeleton2vec's `UniformSampleDecode` ([S2V-dev] datasets/pipelines/sampling.py, p_interval 1,
    one clip) for one clip of F valid frames → T frame indices: F < T: T consecutive frames from a
    random start, looping (mod F); T ≤ F < 2T: F − T random gaps inserted into 0..T−1 (T distinct
    frames in order); F ≥ 2T: one random frame in each of T segments [i·F//T, (i+1)·F//T)."""
    t = torch.arange(frames)
    if f < frames:
        start = int(torch.randint(f, (1,), generator=generator))
        return (start + t) % f
    if f < 2 * frames:
        gaps = torch.randperm(frames + 1, generator=generator)[:f - frames]
        offset = torch.zeros(frames + 1, dtype=torch.long)
        offset[gaps] = 1
        return t + offset.cumsum(0)[:-1]
    bounds = torch.arange(frames + 1) * f // frames
    size = bounds.diff()
    return bounds[:-1] + (torch.rand(frames, generator=generator) * size).long().clamp(max=size - 1)


def temporal_augment(x: torch.Tensor, cfg: TemporalAugment, generator: torch.Generator,
                     spans: torch.Tensor | None = None) -> torch.Tensor:
    """Train-time temporal augmentation of preprocessed clips x (N, M, T, V, C), one draw per sample
    from `generator` (`cfg.kind`: "center" returns x unchanged and draws nothing).

    The draws follow the reference on the clip's *original* valid frames: `spans` (N, 3) =
    `clip_spans(F, preprocess.crop_ratio)`. The original frames are not kept after preprocessing
    (every clip is resampled once to T frames from its centre `crop_ratio` band), so the chosen
    original positions are mapped onto the preprocessed clip, which is sampled there by linear
    interpolation (position s → clip time (s − first + 0.5)·T/length − 0.5, clamped to [0, T−1]).
    Deviations, documented: (1) positions outside the centre band (the first and last
    (1 − crop_ratio)/2 of the frames; 2 of 80 frames at 0.95) clamp to the band's edge frames;
    (2) frames are linear interpolations of the resampled clip, so a clip that was downsampled
    (0.95·F > T) is smoothed once more. Without `spans` the T preprocessed frames are the valid
    frames (F = T, band = the whole clip): then random_crop is MAMP's rule applied to the already
    95%-cropped clip and uniform_segments is the identity (T of T frames).
    """
    if cfg.kind == "center":
        return x
    n, _, frames = x.shape[:3]
    if spans is None:
        spans = torch.tensor([frames, 0, frames], device=x.device).expand(n, 3)
    spans = spans.to(x.device)
    if cfg.kind == "random_crop":
        pos = _mamp_crop_positions(spans, frames, cfg, generator)
    elif cfg.kind == "uniform_segments":
        cpu = spans.cpu().tolist()
        gen_device = generator.device
        if gen_device.type != "cpu":  # the per-clip rule runs on the CPU; draw its seed on the device
            seed = int(torch.randint(2**62, (1,), generator=generator, device=gen_device))
            cpu_gen = torch.Generator().manual_seed(seed)
        else:
            cpu_gen = generator
        pos = torch.stack([_segment_indices(max(f, 1), frames, cpu_gen) for f, _, _ in cpu]).to(x.device).double()
    else:
        raise ValueError(f"unknown temporal augmentation {cfg.kind!r}")
    first, length = spans[:, 1:2].double(), spans[:, 2:3].double()
    t = ((pos - first + 0.5) * (frames / length) - 0.5).clamp(0, frames - 1)
    i0 = t.floor().long()
    i1 = (i0 + 1).clamp(max=frames - 1)
    w1 = (t - i0).to(x.dtype)
    shape = (n, 1, frames, 1, 1)

    def take(idx: torch.Tensor) -> torch.Tensor:
        return x.gather(2, idx.view(shape).expand(-1, x.shape[1], -1, x.shape[3], x.shape[4]))

    w1 = w1.view(shape)
    return take(i0) * (1 - w1) + take(i1) * w1
