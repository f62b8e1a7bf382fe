"""Tune CPU defaults on real data, on a validation split carved from each dataset's training side.

In-process: ingest + preprocess once into a cache folder (outside the project), pretrain one method
with `skelssl.train.pretrain`, then probe the pretrained encoder and a random-init encoder of the
same spec (same probe recipe, same probe seed) on the validation split. One TSV line per probe
recipe: dataset, method, setting, seed, pretrain seconds, final loss, linear pretrained, linear
random, kNN pretrained, kNN random, probe.

Validation split (never the test split): the training side of the dataset's split is cut in two —
MSR Action3D (xsub, train = odd subjects 1,3,5,7,9): val = subjects 7 and 9;
UTD-MHAD (xsub, train = odd subjects 1,3,5,7): val = subject 7;
Penn Action (official train flag): val = clips with crc32(name) % 4 == 0.
Pretraining sees only the train-minus-val part; the probe trains on it and is scored on val.

Usage:
  python benchmarks/real/tune.py --dataset msr --method mamp --set methods.mamp.optim.epochs=60 \
      [--frames 32] [--align] [--scale rms] [--seed 0] [--probe default --probe lr=0.03,epochs=200]

`--scale rms` sets `preprocess.scale: rms` (skelssl.kernels.rms_scale; runs 1-71 of runs.tsv used
an earlier in-script version applied after the crop/resize, the same rule on the resampled clip).
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml

from skelssl.augment import clip_spans
from skelssl.backbones import backbone_spec, random_backbone
from skelssl.config import Params
from skelssl.evaluation.features import extract_features, topk_accuracy
from skelssl.evaluation.knn import knn_predict
from skelssl.evaluation.linear import linear_probe
from skelssl.methods import METHODS, build_method
from skelssl.pipeline import ingest, preprocess
from skelssl.pipeline.dataset import load_processed
from skelssl.repro import configure_torch, derive_seed, torch_generator
from skelssl.train import pretrain

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"
CACHE = Path("/tmp/skelssl_real_cache")

DATASETS = {
    "msr": dict(source="msr_action3d", input=REAL / "msr_action3d" / "MSRAction3DSkeletonReal3D",
                split="xsub", val=lambda idx: np.isin(idx["subject"].to_numpy(), [7, 9])),
    "utd": dict(source="utd_mhad", input=REAL / "utd_mhad" / "skeleton", split="xsub",
                val=lambda idx: np.isin(idx["subject"].to_numpy(), [7])),
    "penn": dict(source="penn_action", input=REAL / "penn_action" / "labels", split="official",
                 val=lambda idx: np.array([zlib.crc32(n.encode()) % 4 == 0 for n in idx["name"].to_list()])),
}


def set_dotted(raw: dict, key: str, value: str) -> None:
    parts = key.split(".")
    node = raw
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = yaml.safe_load(value)


def make_params(dataset: str, sets: list[str], frames: int, align: bool, scale: str, seed: int) -> Params:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    d = DATASETS[dataset]
    raw["ingest"].update(source=d["source"], input=str(d["input"]), on_error="skip", workers=1)
    raw["base"].update(split=d["split"], seed=seed)
    raw["preprocess"].update(frames=frames, align_view=align, scale=scale)
    raw["pretrain"].update(threads=2, device="cpu", checkpoint_every=0)
    for s in sets:
        k, v = s.split("=", 1)
        set_dotted(raw, k, v)
    return Params.model_validate(raw)


def processed_dir(params: Params, dataset: str) -> Path:
    ing = CACHE / dataset / "ingested"
    if not ing.exists():
        ingest.run(params, Path(params.ingest.input), ing)
    pp = params.preprocess
    out = CACHE / dataset / f"proc_T{pp.frames}_align{int(pp.align_view)}_c{int(pp.center)}_crop{pp.crop_ratio}_scale{pp.scale}"
    if not out.exists():
        preprocess.run(params, ing, out)
    return out


def committed_params(dataset: str, sets: list[str], seed: int) -> Params:
    """params.yaml's preprocessing (T 32, rms scale, align_view auto: 3D with hips aligned, 2D as is)."""
    return make_params(dataset, sets, 32, dataset != "penn", "rms", seed)


def fit_val_split(params: Params, dataset: str):
    """(processed data, fit rows, validation rows, labels): the training side of the dataset's split
    minus its validation part, and that part (module docstring); the test side is left out."""
    data = load_processed(processed_dir(params, dataset))
    train_flags = data.index[f"{params.base.split}_train"].to_numpy().astype(bool)
    val_mask = DATASETS[dataset]["val"](data.index) & train_flags
    fit = torch.from_numpy(np.flatnonzero(train_flags & ~val_mask))
    val = torch.from_numpy(np.flatnonzero(val_mask))
    labels = torch.from_numpy(data.index["label"].to_numpy().astype(np.int64))
    return data, fit, val, labels


def study_setup(description: str, methods: list[str] | None = None,
                extra: Callable[[argparse.ArgumentParser], object] | None = None):
    """The command line of the per-method study scripts (bn_recalibration.py, feature_spectrum.py,
    pretext_baselines.py): `--dataset --method [--seed] [--set key=value ...]`, `methods` limiting
    `--method` (default: every registered method), `extra` adding a script's own options; returns (args, committed params with the
    overrides, data, fit rows, validation rows, labels), with torch set to the machine's 2 threads."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--dataset", required=True, choices=list(DATASETS))
    ap.add_argument("--method", required=True, choices=methods or list(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="params override, e.g. methods.mamp.mask.ratio=0.75")
    if extra is not None:
        extra(ap)
    a = ap.parse_args()
    params = committed_params(a.dataset, [f"method={a.method}", *a.set], a.seed)
    configure_torch(2)
    return (a, params, *fit_val_split(params, a.dataset))


def init_method(params: Params, data, freeze_encoder: bool = False):
    """The method of the committed block, initialised as the pretrain stage does (init seed); with
    `freeze_encoder`, its encoder's parameters are left out of training (requires_grad off: the
    optimiser's parameter groups skip them), so only the rest (decoder, mask token, …) learns."""
    torch.manual_seed(derive_seed(params.base.seed, "init", params.method))
    method = build_method(params.method, params.method_params, layout=data.layout, frames=data.x.shape[2])
    if freeze_encoder:
        method.encoder.requires_grad_(False)
    return method


def pretrain_method(method, params: Params, data, fit: torch.Tensor):
    """Pretrain `method` on the fit rows as the pretrain stage does (the clips' valid-frame spans
    for the temporal augmentation); returns the history."""
    spans = clip_spans(torch.from_numpy(data.index["frames"].to_numpy().astype(np.int64)), params.preprocess.crop_ratio)
    method.train()
    return pretrain(method, data.x[fit], data.motion[fit], params.method_params.optim, params.base.seed,
                    torch.device("cpu"), params.pretrain, None, "", spans=spans[fit])


def pretrain_on_fit(params: Params, data, fit: torch.Tensor):
    """(encoder, history): the method's committed block pretrained on the fit rows (init_method,
    pretrain_method)."""
    method = init_method(params, data)
    history = pretrain_method(method, params, data, fit)
    return method.export_encoder(), history


def random_twin(params: Params, data):
    """The method's random-init encoder, as the evaluate stage builds it (seed key "random_init")."""
    spec = backbone_spec(params.method_params.backbone, data.layout, data.x.shape[2])
    return random_backbone(spec, derive_seed(params.base.seed, "random_init"))


def fit_val_features(encoder, data, fit: torch.Tensor, val: torch.Tensor, batch_size: int):
    """(fit clips' features, validation clips' features) of `encoder`, on the CPU."""
    cpu = torch.device("cpu")
    return extract_features(encoder, data.x[fit], batch_size, cpu), extract_features(encoder, data.x[val], batch_size, cpu)


def probe_scores(features, y: torch.Tensor, vy: torch.Tensor, classes: int, params: Params,
                 linear=None) -> tuple[float, float]:
    """(linear top-1, kNN top-1) on the validation clips of (fit, validation) `features`: the probe
    `linear` (default `evaluate.linear`) with the seed's probe generator, and `evaluate.knn`."""
    ft, fv = features
    ev = params.evaluate
    lin = linear_probe(ft, y, fv, vy, classes, linear or ev.linear, torch_generator(params.base.seed, "linear")).top1
    knn = topk_accuracy(knn_predict(ft, y, fv, classes, ev.knn.k, ev.knn.temperature), vy, 1)
    return lin, knn


def record(line: list[str], tsv: str) -> None:
    """Print one result line and append it to `benchmarks/real/<tsv>`."""
    print("\t".join(line), flush=True)
    with open(ROOT / "benchmarks" / "real" / tsv, "a") as fh:
        fh.write("\t".join(line) + "\n")


def parse_probe(text: str, base):
    if text == "default":
        return base
    upd = {}
    for kv in text.split(","):
        k, v = kv.split("=")
        upd[k] = yaml.safe_load(v)
    return base.model_validate({**base.model_dump(), **upd})


def probe_label(text: str, cfg) -> str:
    """`text`, with the epochs and batch size spelled out for "default" (params.yaml's recipe changed
    over the study: 60 epochs / batch 64 in runs 1-136 of runs.tsv, 200 / 16 from run 137 on)."""
    return f"default[epochs={cfg.epochs},batch_size={cfg.batch_size}]" if text == "default" else text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, choices=list(DATASETS))
    ap.add_argument("--method", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--align", action="store_true")
    ap.add_argument("--scale", default="none", choices=["none", "rms"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--probe", action="append", default=[])
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    params = make_params(a.dataset, [f"method={a.method}", *a.set], a.frames, a.align, a.scale, a.seed)
    configure_torch(2)
    data, fit, val, labels = fit_val_split(params, a.dataset)
    y, vy = labels[fit], labels[val]
    t0 = time.time()
    encoder, history = pretrain_on_fit(params, data, fit)
    secs = time.time() - t0
    loss = history.rows[-1]["loss"] if history.rows else float("nan")
    rand = random_twin(params, data)
    ev = params.evaluate
    feats = {name: fit_val_features(enc, data, fit, val, ev.batch_size) for name, enc in (("pre", encoder), ("rnd", rand))}
    setting = a.label or ";".join([f"T{a.frames}", f"align{int(a.align)}", f"scale={a.scale}", *a.set])
    for ptext in a.probe or ["default"]:
        pcfg = parse_probe(ptext, ev.linear)
        res = {name: probe_scores(features, y, vy, data.num_classes, params, pcfg) for name, features in feats.items()}
        line = [a.dataset, a.method, setting, str(a.seed), f"{secs:.0f}", f"{loss:.4f}",
                f"{res['pre'][0]:.1f}", f"{res['rnd'][0]:.1f}", f"{res['pre'][1]:.1f}", f"{res['rnd'][1]:.1f}",
                f"{res['pre'][0] - res['rnd'][0]:+.1f}", probe_label(ptext, pcfg), f"fit={len(fit)},val={len(val)}"]
        record(line, "runs.tsv")


if __name__ == "__main__":
    main()
