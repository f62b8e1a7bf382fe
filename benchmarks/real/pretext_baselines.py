"""How much of a masked-reconstruction pretext a model-free fill-in solves (issue 13 item 4).

SkeletonMAE-ST, MAMP and graph SkeletonMAE do not beat their random-init twins on the small real
datasets. The hypothesis in skeletonmae_st's docstring: masked joints and segments can be filled
in from their unmasked neighbours, which needs no action-level features. This script measures it
on the validation protocol's split (tune.py's: the training side's *fit* part for pretraining and
for fitting the linear predictors, its validation part for scoring; the test side is never read),
for the committed `methods.<id>` block.

skeletonmae_st and mamp:
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
   - **frozen random encoder**: the same init, pretrained the same way with the encoder's
     parameters frozen, so only the decoder (and mask token) learn: what the pretext reaches
     without the encoder learning anything;
   - **pretrained**: the method after pretraining.
   Each is split into the tokens of joints masked in every segment ("whole joint") and the rest.

skeletonmae_graph (one graph per frame): on the validation clips' present frames, `--draws`
body-part masks per frame drawn as the method draws them (`mask.parts` parts), scored with its
scaled cosine error on the masked joints' targets (clean coordinates re-centred on the frame's
mean joint), input without the training noise:
   - **mean direction**: no input at all: each joint's mean unit target direction over the fit
     frames, a constant per joint (which joint is masked, nothing of the pose);
   - **linear pose map**: no encoder: per joint, a ridge regression (fitted on the fit frames with
     `--draws` mask draws) from the frame's visible joints re-centred on their own mean (zero for
     masked joints, plus which joints are visible) to the joint's target;
   - **random init**, **frozen random encoder**, **pretrained**: as above (`reconstruct`), with the
     final training loss of the two trained ones.

Usage: python benchmarks/real/pretext_baselines.py --dataset msr --method skeletonmae_st [--seed 0]
Prints one Markdown table; results go to docs/real-data-tuning.md by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune import init_method, pretrain_method, study_setup  # noqa: E402

from skelssl.backbones.graph import adjacency  # noqa: E402
from skelssl.masking.body_parts import body_part_mask  # noqa: E402
from skelssl.masking.motion import patchify  # noqa: E402
from skelssl.methods.mae import MaskedReconstruction, masked_mse, normalise_tokens  # noqa: E402
from skelssl.methods.skeletonmae_graph import SkeletonMAEGraph, centred_target, present_frames, sce_loss  # noqa: E402
from skelssl.repro import torch_generator  # noqa: E402
from skelssl.skeleton import Layout  # noqa: E402


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


def ridge_fit(xs: list[torch.Tensor], ys: list[torch.Tensor], ridge: float) -> torch.Tensor | None:
    """Ridge weights (F, P) from the stacked rows of `xs` to those of `ys` (in float64), or None
    when there are no rows."""
    if sum(len(x) for x in xs) == 0:
        return None
    a, y = torch.cat(xs).double(), torch.cat(ys).double()
    gram = a.T @ a + ridge * torch.eye(a.shape[1], dtype=torch.float64)
    return torch.linalg.solve(gram, a.T @ y).float()


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
    return [ridge_fit(xs[j], ys[j], ridge) for j in range(layout.num_joints)]


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


def pose_features(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, V·C + V + 1): each frame's visible joints re-centred on their own mean (zero for the
    masked ones), which joints are visible, and a bias term."""
    shown = (~mask).unsqueeze(-1).to(frames.dtype)  # (B, V, 1)
    centre = (frames * shown).sum(dim=1, keepdim=True) / shown.sum(dim=1, keepdim=True).clamp_min(1)
    rel = (frames - centre) * shown
    return torch.cat([rel.flatten(1), shown.flatten(1), torch.ones(len(frames), 1, dtype=frames.dtype)], dim=1)


def fit_pose_map(frames: torch.Tensor, layout: Layout, parts: int, draws: int, seed: int,
                 ridge: float = 1.0) -> list[torch.Tensor | None]:
    """Per joint, ridge weights from pose_features to its centred target, fitted on the frames
    where it is masked, over `draws` body-part mask draws: a linear map of one frame's visible pose."""
    gen = torch_generator(seed, "pretext-baselines", "fit")
    target = centred_target(frames)
    xs: list[list[torch.Tensor]] = [[] for _ in range(layout.num_joints)]
    ys: list[list[torch.Tensor]] = [[] for _ in range(layout.num_joints)]
    for _ in range(draws):
        mask = body_part_mask(len(frames), layout, parts, gen)
        feats = pose_features(frames, mask)
        for j in range(layout.num_joints):
            xs[j].append(feats[mask[:, j]])
            ys[j].append(target[mask[:, j], j])
    return [ridge_fit(xs[j], ys[j], ridge) for j in range(layout.num_joints)]


def pose_map_prediction(frames: torch.Tensor, mask: torch.Tensor, weights: list[torch.Tensor | None]) -> torch.Tensor:
    """(B, V, C): fit_pose_map's prediction for every masked joint (zero elsewhere)."""
    feats = pose_features(frames, mask)
    pred = torch.zeros_like(frames)
    for j, w in enumerate(weights):
        rows = mask[:, j]
        if w is not None and rows.any():
            pred[rows, j] = feats[rows] @ w
    return pred


def mean_directions(frames: torch.Tensor) -> torch.Tensor:
    """(V, C): each joint's mean unit direction from the frame's centre (a constant per joint)."""
    return F.normalize(centred_target(frames), dim=-1).mean(dim=0)


def graph_scores(models: dict[str, SkeletonMAEGraph], frames: torch.Tensor, layout: Layout, parts: int,
                 beta: float, draws: int, seed: int, pose_map: list[torch.Tensor | None],
                 directions: torch.Tensor) -> dict[str, float]:
    """The scaled cosine error (the method's loss) on the masked joints of `frames`, mean over
    `draws` body-part mask draws, for each model (clean input: no noise) and the two model-free
    predictors; every predictor sees the same masks."""
    gen = torch_generator(seed, "pretext-baselines")
    target = centred_target(frames)
    for model in models.values():
        model.eval()
    sums: dict[str, list[float]] = {}
    for _ in range(draws):
        mask = body_part_mask(len(frames), layout, parts, gen)
        preds = {"mean direction": directions.expand_as(frames),
                 "linear pose map": pose_map_prediction(frames, mask, pose_map)}
        with torch.no_grad():
            for name, model in models.items():
                preds[name] = model.reconstruct(frames, mask)[1]
        for name, pred in preds.items():
            sums.setdefault(name, []).append(sce_loss(pred[mask], target[mask], beta).item())
    return {name: float(np.mean(vals)) for name, vals in sums.items()}


def present_sequences(x: torch.Tensor) -> torch.Tensor:
    """(N, M, T, V, C) → (N·M, T, V, C) without all-zero persons, as the methods flatten them."""
    flat = x.flatten(0, 1)
    return flat[flat.flatten(1).abs().amax(dim=1) > 0].float()


def graph_main(a: argparse.Namespace, params, data, fit: torch.Tensor, val: torch.Tensor) -> None:
    """skeletonmae_graph: per-frame predictors of the masked body parts' joints (module docstring)."""
    cfg = params.method_params
    frames, frames_val = present_frames(data.x[fit].float()), present_frames(data.x[val].float())
    models, losses = {}, {}
    for name, freeze in (("pretrained", False), ("frozen random encoder", True)):  # each as tune.py runs it
        models[name] = init_method(params, data, freeze_encoder=freeze)
        losses[name] = pretrain_method(models[name], params, data, fit).rows[-1]["loss"]
    models["random init"] = init_method(params, data)
    result = graph_scores(models, frames_val, data.layout, cfg.mask.parts, cfg.sce_beta, a.draws, a.seed,
                          fit_pose_map(frames, data.layout, cfg.mask.parts, a.draws, a.seed),
                          mean_directions(frames))
    print(f"{a.dataset} skeletonmae_graph seed {a.seed}: fit {len(fit)} clips ({len(frames)} frames), "
          f"scored on validation {len(val)} clips ({len(frames_val)} frames), {a.draws} masks each")
    print("| predictor | validation loss (masked joints) | final training loss |")
    print("|---|---|---|")
    for name in ("mean direction", "linear pose map", "random init", "frozen random encoder", "pretrained"):
        print(f"| {name} | {result[name]:.4f} | " + (f"{losses[name]:.4f}" if name in losses else "–") + " |")


def main() -> None:
    a, params, data, fit, val, _labels = study_setup(
        __doc__.split("\n")[0], methods=["skeletonmae_st", "mamp", "skeletonmae_graph"],
        extra=lambda ap: ap.add_argument("--draws", type=int, default=4, help="masks drawn per clip"))
    if a.method == "skeletonmae_graph":
        graph_main(a, params, data, fit, val)
        return
    x = present_sequences(data.x[fit])
    x_val = present_sequences(data.x[val])

    method = init_method(params, data)
    weights = fit_linear_fill(method, x, data.layout, a.draws, a.seed)  # masks only: no model
    before = scores(method, x_val, data.layout, a.draws, a.seed)  # the random-init model only
    history = pretrain_method(method, params, data, fit)
    after = scores(method, x_val, data.layout, a.draws, a.seed, weights)
    frozen = init_method(params, data, freeze_encoder=True)  # the same init, only the decoder learns
    frozen_history = pretrain_method(frozen, params, data, fit)
    frozen_scores = scores(frozen, x_val, data.layout, a.draws, a.seed)

    print(f"{a.dataset} {a.method} seed {a.seed}: fit {len(fit)} clips ({x.shape[0]} sequences), "
          f"scored on validation {len(val)} clips ({x_val.shape[0]} sequences), {a.draws} masks each; "
          f"final training loss {history.rows[-1]['loss']:.4f} "
          f"(frozen random encoder {frozen_history.rows[-1]['loss']:.4f})")
    groups = ["all masked", "whole joint", "rest"]
    print("| predictor | " + " | ".join(f"{g} (loss)" for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    print("| share of masked tokens % | " + " | ".join(f"{after['share'][g]:.1f}" for g in groups) + " |")
    rows = [("zero", after["zero"]), ("fill-in (no model)", after["fill-in"]),
            ("linear fill-in (no encoder)", after["linear fill-in"]),
            ("random init", before["model"]), ("frozen random encoder", frozen_scores["model"]),
            ("pretrained", after["model"])]
    for name, vals in rows:
        print(f"| {name} | " + " | ".join(f"{vals[g]:.3f}" if g in vals else "–" for g in groups) + " |")


if __name__ == "__main__":
    main()
