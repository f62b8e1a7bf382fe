"""How much of a masked-reconstruction pretext a model-free fill-in solves (issue 13 item 4).

SkeletonMAE-ST and MAMP do not beat their random-init twins on the small real datasets. The
hypothesis in skeletonmae_st's docstring: masked joints and segments can be filled in from their
unmasked neighbours, which needs no action-level features. This script measures it on the
validation protocol's split (tune.py's: the training side's *fit* part for pretraining and for
fitting the linear fill-in, its validation part for scoring; the test side is never read), for the
committed `methods.<id>` block:

1. pretrain the method on the fit clips as tune.py does (committed defaults, seed `--seed`);
2. on the validation clips (seen by no predictor), without augmentation, present persons only,
   draw `--draws` masks per clip with the method's own `make_mask`, and score on the masked tokens
   with the method's own loss
   (`masked_mse` of the `targets`, normalised per token when `norm_target`):
   - **zero**: predicting 0 (the normalised target's mean);
   - **fill-in**: no model: each joint's coordinates at its masked frames are linearly interpolated
     in time between its nearest visible frames (held at the ends); a joint with no visible frame
     takes the mean of its filled bone-graph neighbours, frame by frame (breadth-first from the
     joints that have visible frames); the targets are then computed from the filled sequence;
   - **linear fill-in**: still no encoder: the fill-in's temporal interpolation for the joints
     with visible frames, then a ridge regression per joint (fitted on `--draws` other mask draws
     of the same clips) from the per-token-normalised patches of the other joints *in the same
     segment* (zero where a joint has no visible frame, plus which joints those are) to the
     joint's normalised patch, fitted on the fit clips: a per-segment linear map of the pose, with no view of the rest of
     the clip, so no action-level feature; it predicts the tokens of joints masked in every segment
     (the rest keep the interpolation);
   - **random init**: the method right after construction (same init seed), encoder and decoder;
   - **pretrained**: the method after pretraining.
   Each is split into the tokens of joints masked in every segment ("whole joint") and the rest.

Usage: python benchmarks/real/pretext_baselines.py --dataset msr --method skeletonmae_st [--seed 0]
Prints one Markdown table; results go to docs/real-data-tuning.md by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import DATASETS, committed_params, fit_val_split  # noqa: E402

from skelssl.augment import clip_spans  # noqa: E402
from skelssl.backbones.graph import adjacency  # noqa: E402
from skelssl.methods import build_method  # noqa: E402
from skelssl.masking.motion import patchify  # noqa: E402
from skelssl.methods.mae import MaskedReconstruction, masked_mse, normalise_tokens  # noqa: E402
from skelssl.repro import configure_torch, derive_seed, torch_generator  # noqa: E402
from skelssl.skeleton import Layout  # noqa: E402
from skelssl.train import pretrain  # noqa: E402


def fill_in(x: torch.Tensor, masked: torch.Tensor, t_patch: int, layout: Layout) -> torch.Tensor:
    """x (B, T, V, C) with every masked token's frames filled from visible ones (module docstring).

    masked: (B, S·V) segment-major, True = masked.
    """
    b, t, v, c = x.shape
    seg = t // t_patch
    visible_frames = (~masked.view(b, seg, v)).repeat_interleave(t_patch, dim=1)  # (B, T, V)
    out = x.detach().numpy().copy()
    vis = visible_frames.numpy()
    bones = adjacency(layout, self_links=False).numpy() > 0
    frames = np.arange(t)
    for i in range(b):
        filled = np.zeros(v, dtype=bool)
        for j in range(v):
            seen = np.flatnonzero(vis[i, :, j])
            if len(seen) == 0:
                continue
            for k in range(c):
                out[i, :, j, k] = np.interp(frames, seen, out[i, seen, j, k])
            filled[j] = True
        while not filled.all():
            progress = False
            for j in np.flatnonzero(~filled):
                near = np.flatnonzero(bones[j] & filled)
                if len(near):
                    out[i, :, j] = out[i][:, near].mean(axis=1)
                    filled[j] = True
                    progress = True
            if not progress:  # a joint cut off from every filled one (not in these layouts)
                out[i][:, ~filled] = 0.0
                break
    return torch.from_numpy(out)


def segment_features(x_filled: torch.Tensor, has_frames: torch.Tensor, t_patch: int) -> torch.Tensor:
    """(B, S, V·P + V + 1): each segment's per-token-normalised patches of the joints with visible
    frames (zero for the others), which joints those are, and a bias term."""
    patches = normalise_tokens(patchify(x_filled, t_patch))  # (B, S, V, P)
    b, s, v, _ = patches.shape
    shown = has_frames[:, None, :, None].expand(b, s, v, 1).float()
    return torch.cat([(patches * shown).flatten(2), shown.flatten(2), torch.ones(b, s, 1)], dim=2)


def whole_joint_grid(masked: torch.Tensor, segments: int) -> torch.Tensor:
    """(B, V) True where a joint is masked in every segment."""
    return masked.view(masked.shape[0], segments, -1).all(dim=1)


def fit_linear_fill(method: MaskedReconstruction, x: torch.Tensor, layout: Layout, draws: int,
                    seed: int, ridge: float = 1.0) -> list[torch.Tensor | None]:
    """Per joint, ridge weights (features → normalised patch), fitted on `draws` mask draws."""
    gen = torch_generator(seed, "pretext-baselines", "fit")
    seg = method.encoder.segments
    xs: list[list[torch.Tensor]] = [[] for _ in range(layout.num_joints)]
    ys: list[list[torch.Tensor]] = [[] for _ in range(layout.num_joints)]
    target = method.targets(x).view(x.shape[0], seg, layout.num_joints, -1)
    for _ in range(draws):
        mask = method.make_mask(x, gen)
        whole = whole_joint_grid(mask.masked, seg)
        feats = segment_features(fill_in(x, mask.masked, method.t_patch, layout), ~whole, method.t_patch)
        for j in range(layout.num_joints):
            rows = whole[:, j]
            xs[j].append(feats[rows].flatten(0, 1))
            ys[j].append(target[rows, :, j].flatten(0, 1))
    weights: list[torch.Tensor | None] = []
    for j in range(layout.num_joints):
        if not xs[j] or sum(len(a) for a in xs[j]) == 0:
            weights.append(None)
            continue
        a, y = torch.cat(xs[j]).double(), torch.cat(ys[j]).double()
        gram = a.T @ a + ridge * torch.eye(a.shape[1], dtype=torch.float64)
        weights.append(torch.linalg.solve(gram, a.T @ y).float())
    return weights


def linear_fill_prediction(method: MaskedReconstruction, filled: torch.Tensor, masked: torch.Tensor,
                           layout: Layout, weights: list[torch.Tensor | None]) -> torch.Tensor:
    """Normalised patches (B, S·V, P): those of `filled` (fill_in's output), with whole-joint
    tokens regressed."""
    seg = method.encoder.segments
    pred = method.targets(filled).view(filled.shape[0], seg, layout.num_joints, -1).clone()
    whole = whole_joint_grid(masked, seg)
    feats = segment_features(filled, ~whole, method.t_patch)
    for j, w in enumerate(weights):
        rows = whole[:, j]
        if w is not None and rows.any():
            pred[rows, :, j] = feats[rows] @ w
    return pred.flatten(1, 2)


def scores(method: MaskedReconstruction, x: torch.Tensor, layout: Layout, draws: int,
           seed: int, weights: list[torch.Tensor | None] | None = None) -> dict[str, dict[str, float]]:
    """Loss of each predictor on the masked tokens, overall and split by whole-joint tokens: the
    model's, and with `weights` (fit_linear_fill's) also the model-free ones, which do not depend
    on the model and so are scored once."""
    gen = torch_generator(seed, "pretext-baselines")
    sums: dict[str, dict[str, list[float]]] = {}
    method.eval()
    target = method.targets(x)
    b, seg = x.shape[0], method.encoder.segments
    for _ in range(draws):
        mask = method.make_mask(x, gen)
        grid = mask.masked.view(b, seg, -1)  # (B, S, V)
        whole_joint = whole_joint_grid(mask.masked, seg)[:, None, :].expand_as(grid).flatten(1)
        groups = {"all masked": mask.masked, "whole joint": mask.masked & whole_joint,
                  "rest": mask.masked & ~whole_joint}
        with torch.no_grad():
            visible, _ = method.encoder.forward_tokens(x, ids_keep=mask.ids_keep)
            preds = {"model": method.decoder(visible, mask)}
            if weights is not None:
                filled = fill_in(x, mask.masked, method.t_patch, layout)
                preds |= {"zero": torch.zeros_like(target), "fill-in": method.targets(filled),
                          "linear fill-in": linear_fill_prediction(method, filled, mask.masked, layout, weights)}
        for gname, sel in groups.items():
            sums.setdefault("share", {}).setdefault(gname, []).append(
                100.0 * sel.sum().item() / mask.masked.sum().item())
            if not sel.any():
                continue
            for pname, pred in preds.items():
                sums.setdefault(pname, {}).setdefault(gname, []).append(masked_mse(pred, target, sel).item())
    return {p: {g: float(np.mean(vals)) for g, vals in by.items()} for p, by in sums.items()}


def present_sequences(x: torch.Tensor) -> torch.Tensor:
    """(N, M, T, V, C) → (N·M, T, V, C) without all-zero persons, as the methods flatten them."""
    flat = x.flatten(0, 1)
    return flat[flat.flatten(1).abs().amax(dim=1) > 0].float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, choices=list(DATASETS))
    ap.add_argument("--method", required=True, choices=["skeletonmae_st", "mamp"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=4, help="masks drawn per clip")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    configure_torch(2)
    params = committed_params(a.dataset, [f"method={a.method}", *a.set], a.seed)
    data, fit, val, _labels = fit_val_split(params, a.dataset)
    cfg = params.method_params
    x = present_sequences(data.x[fit])
    x_val = present_sequences(data.x[val])

    torch.manual_seed(derive_seed(params.base.seed, "init", params.method))
    method = build_method(params.method, cfg, layout=data.layout, frames=data.x.shape[2])
    weights = fit_linear_fill(method, x, data.layout, a.draws, a.seed)  # masks only: no model
    before = scores(method, x_val, data.layout, a.draws, a.seed)  # the random-init model only
    spans = clip_spans(torch.from_numpy(data.index["frames"].to_numpy().astype(np.int64)), params.preprocess.crop_ratio)
    method.train()
    history = pretrain(method, data.x[fit], data.motion[fit], cfg.optim, params.base.seed,
                       torch.device("cpu"), params.pretrain, None, "", spans=spans[fit])
    after = scores(method, x_val, data.layout, a.draws, a.seed, weights)

    print(f"{a.dataset} {a.method} seed {a.seed}: fit {len(fit)} clips ({x.shape[0]} sequences), "
          f"scored on validation {len(val)} clips ({x_val.shape[0]} sequences), {a.draws} masks each; "
          f"final training loss {history.rows[-1]['loss']:.4f}")
    groups = ["all masked", "whole joint", "rest"]
    print("| predictor | " + " | ".join(f"{g} (loss)" for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    print("| share of masked tokens % | " + " | ".join(f"{after['share'][g]:.1f}" for g in groups) + " |")
    rows = [("zero", after["zero"]), ("fill-in (no model)", after["fill-in"]),
            ("linear fill-in (no encoder)", after["linear fill-in"]),
            ("random init", before["model"]), ("pretrained", after["model"])]
    for name, vals in rows:
        print(f"| {name} | " + " | ".join(f"{vals[g]:.3f}" if g in vals else "–" for g in groups) + " |")


if __name__ == "__main__":
    main()
