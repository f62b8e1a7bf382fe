"""Stage `pretrain`: train the selected method on the training split; export only the encoder.

Outputs: `OUT_DIR/encoder.pt` (written atomically at the end) and the live log in
`HISTORY_DIR/live/` (`skelssl.live`), written as training goes: `plots/metrics/<name>.tsv` (step,
value) for the loss, grad norm, lr and the method's diagnostics, `metrics.json` (the latest loss,
grad norm and diagnostics, and `step`, after every epoch) and `params.yaml` (method, seed, split,
the method's params, the run settings, training clips and steps: facts, not metrics).

Multi-GPU: `torchrun --nproc_per_node=N stages/pretrain.py ...` (same paths as in dvc.yaml); the
global batch stays `methods.<id>.optim.batch_size`, split over the processes; rank 0 writes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from skelssl.augment import clip_spans
from skelssl.outputs import after_success, check_output_path, claim_output_dir
from skelssl.backbones import backbone_spec
from skelssl.config import Params
from skelssl.distributed import init_from_env
from skelssl.errors import ParamsError
from skelssl.console import log
from skelssl.io import save_encoder
from skelssl.live import LiveLog, check_live_dir
from skelssl.methods import build_method
from skelssl.pipeline.dataset import load_processed
from skelssl.repro import configure_torch, derive_seed, resolve_device
from skelssl.train import NOT_METRICS, clear_state, pretrain, run_fingerprint

ENCODER = "encoder.pt"


def run(params: Params, processed_dir: Path, out_dir: Path, history_dir: Path, state_dir: Path) -> None:
    """Pretrain; `state_dir` holds the resumable checkpoint while the run is unfinished.

    The checkpoint is scratch, not a DVC output: a rerun after a crash finds it and resumes, a
    clone that pulled the encoder never needs it, and it is deleted once the encoder is written
    (docs/checkpoints.md). A resumed run continues its live log in `history_dir/live`.
    """
    claim_output_dir(out_dir, "pretrain", (ENCODER,), inputs=(processed_dir,))
    check_live_dir(history_dir, "pretrain")
    claim_output_dir(history_dir, "pretrain", (), inputs=(processed_dir,))
    check_output_path(state_dir, (processed_dir,))  # a foreign state.pt there is refused on load
    configure_torch(params.pretrain.threads)
    info, device = init_from_env(resolve_device(params.pretrain.device))
    if not info.is_main:
        log.setLevel(logging.WARNING)
    data = load_processed(processed_dir)
    x, motion, _ = data.split(params.base.split, train=True)
    frames, layout = x.shape[2], data.layout
    cfg = params.method_params
    torch.manual_seed(derive_seed(params.base.seed, "init", params.method))  # module init RNG
    try:
        method = build_method(params.method, cfg, layout=layout, frames=frames)
    except ValueError as exc:  # a method's settings that this data cannot take (masks, patches)
        raise ParamsError(f"methods.{params.method}: {exc} (the data: {layout.name} layout, {frames} frames)") from None
    fingerprint = run_fingerprint(params.method, cfg.model_dump(mode="json"), params.base.seed,
                                  tuple(x.shape), float(x.double().sum()))
    valid = data.valid_frames(params.base.split, train=True)
    spans = None if valid is None else clip_spans(valid, params.preprocess.crop_ratio)
    live = None
    if info.is_main:
        live = LiveLog(history_dir, "pretrain", {
            "method": params.method, "seed": params.base.seed, "split": params.base.split,
            "train_samples": len(x), "pretrain": params.pretrain.model_dump(mode="json"),
            "method_params": cfg.model_dump(mode="json")}, not_in_summary=NOT_METRICS)
    history = pretrain(method, x, motion, cfg.optim, params.base.seed, device, params.pretrain,
                       state_dir, fingerprint, spans=spans, live=live)
    if live is None:
        return
    encoder = method.export_encoder()
    meta = {"method": params.method, "seed": params.base.seed, "steps": len(history.rows),
            "train_samples": len(x), "method_params": cfg.model_dump(mode="json")}
    save_encoder(out_dir / ENCODER, encoder.state_dict(),
                 backbone_spec(cfg.backbone, layout, frames), meta)
    live.close()
    after_success(lambda: clear_state(state_dir))  # once the outputs are final: nothing left to resume
    log.info("pretrain: final loss %.4f, encoder → %s", history.rows[-1]["loss"], out_dir / ENCODER)
