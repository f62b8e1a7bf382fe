"""The one pretraining loop: Adam/AdamW, warmup + half-cosine lr per step, grad clipping, bf16
autocast, gradient accumulation, DDP (torchrun), per-step history, resumable checkpoints, and a
live log (`skelssl.live.LiveLog`): every step's row as it is trained, metrics.json after every
epoch; a resumed run logs the restored steps again first, so its log is the uninterrupted run's.

Every random draw is a pure function of (seed, epoch) or (seed, step, shard): each epoch's
permutation comes from a generator seeded by (seed, epoch); each global batch is cut into
`processes × grad_accum` shards and each shard's masks and augmentation come from a generator
seeded by (seed, step, shard), and so is torch's global RNG (dropout, drop-path) before each
shard. So a run resumed from a checkpoint ends with the same weights as an uninterrupted one, and
N DDP processes compute what one process computes with `grad_accum = N` (up to the order of the
gradient reduction).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from contextlib import nullcontext

import torch
from torch import nn

from skelssl.config import OptimParams, PretrainParams
from skelssl.console import log, track
from skelssl.distributed import barrier, current, mean_across
from skelssl.errors import SkelsslError
from skelssl.io import atomic_file
from skelssl.live import LiveLog
from skelssl.outputs import MARKER, kept_on_failure, marker_stage, remove_stale_temporaries, write_marker
from skelssl.methods.base import Batch, Method
from skelssl.repro import derive_seed, torch_generator

HISTORY_COLUMNS = ("step", "epoch", "lr", "loss", "grad_norm")
# per-step values that are plotted but are not results, so not in the live metrics.json: the lr
# and EMA schedules, the mask ratio drawn, the clips / graphs in the batch (sample counts)
NOT_METRICS = ("lr", "ema_decay", "masked_pct", "sequences", "graphs")
STATE_FILE = "state.pt"


def lr_at(step: int, total_steps: int, warmup_steps: int, lr: float, min_lr: float) -> float:
    """Linear warmup from 0, then half-cosine from `lr` to `min_lr` (updated every step)."""
    if step < warmup_steps:
        return lr * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def skips_weight_decay(name: str, p: nn.Parameter) -> bool:
    """Biases, norms, positional embeddings and tokens (any 1-D or pos param) get no weight decay."""
    return p.ndim <= 1 or name.endswith((".bias",)) or "pos_" in name or "token" in name


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """[decay, no-decay] groups of the trainable parameters. A `Method` says which are exempt
    (`Method.no_weight_decay`, each following its reference: MAMP timm's 1-D/bias rule, PSTL none,
    Skeleton2vec timm's plus its positional embeddings); any other module `skips_weight_decay`."""
    exempt = model.no_weight_decay if isinstance(model, Method) else skips_weight_decay
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if exempt(name, p) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fused_supported(model: nn.Module) -> bool:
    """Whether torch's fused (single-kernel) Adam/AdamW applies: floating-point parameters on CPU or
    CUDA. Same update rule as the per-tensor loop; on CPU it is ~15× faster for PSTL's 6144-wide
    projector (docs/benchmarks.md)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def make_optimizer(model: nn.Module, cfg: OptimParams) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay)
    fused = fused_supported(model)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused)
    # Adam with L2 weight decay (PSTL and graph SkeletonMAE use torch.optim.Adam)
    return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, fused=fused)


@dataclass
class History:
    rows: list[dict[str, float]] = field(default_factory=list)

    def to_tsv(self) -> str:
        columns = list(self.rows[0]) if self.rows else list(HISTORY_COLUMNS)
        lines = ["\t".join(columns)]
        for row in self.rows:
            lines.append("\t".join(_fmt(row[c]) for c in columns))
        return "\n".join(lines) + "\n"


def _log_row(live: LiveLog, row: dict[str, float]) -> None:
    live.log(int(row["step"]), {k: v for k, v in row.items() if k not in ("step", "epoch")})


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def run_fingerprint(*parts: object) -> str:
    """Identifies a run (method params, seed, data): a checkpoint resumes only the same run."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_state(folder: Path, method: Method, optimizer: torch.optim.Optimizer, epochs_done: int,
                history: History, fingerprint: str) -> None:
    state = {"fingerprint": fingerprint, "epochs_done": epochs_done, "model": method.state_dict(),
             "optimizer": optimizer.state_dict(), "history": history.rows}
    with kept_on_failure(), atomic_file(folder / STATE_FILE) as tmp:  # it exists to survive a failure
        torch.save(state, tmp)


_STATE_KEYS = {"fingerprint": str, "epochs_done": int, "model": dict, "optimizer": dict, "history": list}


def _load_state(folder: Path, method: Method, optimizer: torch.optim.Optimizer,
                fingerprint: str) -> tuple[int, History]:
    """Resume from `folder` if it holds a checkpoint of this very run; else start from scratch.

    A checkpoint of another run (another fingerprint) is ignored and later overwritten. A file
    that is not a skelssl checkpoint at all (unreadable, another format, missing keys, not fitting
    the model) raises a one-line SkelsslError instead: checkpoints are written atomically, so such
    a file was put there by something else, and neither overwriting it nor silently retraining
    from scratch is ours to decide.
    """
    path = folder / STATE_FILE
    remove_stale_temporaries(folder, [STATE_FILE])  # left by a run killed while saving
    if not path.exists():
        return 0, History()

    def foreign(why: str) -> SkelsslError:
        return SkelsslError(f"{path}: not a skelssl pretraining checkpoint ({why}); "
                            "delete it to start afresh")

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on foreign bytes
        raise foreign(f"unreadable with torch.load(weights_only=True): {type(exc).__name__}") from None
    if not isinstance(state, dict):
        raise foreign(f"holds a {type(state).__name__}, not a dict")
    missing = [k for k in _STATE_KEYS if k not in state]
    if missing:
        raise foreign(f"missing {', '.join(missing)}")
    wrong = [k for k, kind in _STATE_KEYS.items() if not isinstance(state[k], kind)]
    if wrong:
        raise foreign(f"unexpected type of {', '.join(wrong)}")
    if state["fingerprint"] != fingerprint:
        log.info("pretrain: checkpoint in %s belongs to another run; starting afresh", folder)
        return 0, History()
    try:
        method.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise foreign(f"its weights do not fit this model: {type(exc).__name__}") from None
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise foreign(f"its optimizer state does not fit this model: {_first_line(exc)}") from None
    log.info("pretrain: resuming after epoch %d from %s", state["epochs_done"], path)
    return state["epochs_done"], History(list(state["history"]))


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n", 1)[0].split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


STATE_DIR_MARK = "pretrain-state"  # the marker of a checkpoint folder that pretraining created


def _make_state_dir(folder: Path) -> None:
    """Create the checkpoint folder, marked as created by skelssl; a folder that exists already
    (the user's, or an earlier run's) is used as it is."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    try:
        write_marker(folder, STATE_DIR_MARK)
    except FileExistsError:  # another process of a distributed run marked it first
        pass


def clear_state(folder: Path) -> None:
    """Delete the resumable checkpoint once the run's outputs are written, and the folder when
    pretraining created it and nothing else is in it (a folder the user gave stays, empty or not):
    the checkpoint exists only to resume an interrupted run, and a finished one kept around would
    let a later run with changed code "resume" at its end."""
    (folder / STATE_FILE).unlink(missing_ok=True)
    remove_stale_temporaries(folder, [STATE_FILE])
    try:
        if marker_stage(folder) == STATE_DIR_MARK and os.listdir(folder) == [MARKER]:
            (folder / MARKER).unlink()
            folder.rmdir()
    except OSError:
        pass


def pretrain(method: Method, x: torch.Tensor, motion: torch.Tensor, cfg: OptimParams, seed: int,
             device: torch.device, run: PretrainParams | None = None, state_dir: Path | None = None,
             fingerprint: str = "", spans: torch.Tensor | None = None,
             live: LiveLog | None = None) -> History:
    """Train `method` on x (N, M, T, V, C) and motion (N, M, T, V); return the per-step history.
    `spans` (N, 3): the original clips' valid frames (`skelssl.augment.clip_spans`), handed to the
    method's temporal augmentation in `Batch.spans`.

    The method augments and masks its batches itself, with the step's generator. With
    `state_dir`, a checkpoint is written atomically every `run.checkpoint_every` epochs and
    the loop resumes from it when the fingerprint matches. With `live` (the main process's), every
    step's values but `epoch` are logged at that step, and metrics.json is synced after every
    epoch; on resume the checkpoint's steps are logged again first.
    """
    amp = run is not None and run.amp
    every = run.checkpoint_every if run is not None else 0
    micro = run.grad_accum if run is not None else 1
    info = current()
    shards = info.world * micro  # the global batch is cut into this many shards
    n = x.shape[0]
    batch_size = min(cfg.batch_size, n)
    if batch_size < shards:
        raise SkelsslError(f"optim.batch_size {batch_size} is smaller than processes × "
                           f"pretrain.grad_accum = {shards}")
    # drop the last incomplete batch, as MAMP's main_pretrain.py does (drop_last=True); PSTL's and
    # the Skeleton2vec dev code's loaders keep it (documented deviations in methods/pstl.py and
    # methods/skeleton2vec.py)
    steps_per_epoch = n // batch_size
    total = steps_per_epoch * cfg.epochs
    warmup = steps_per_epoch * cfg.warmup_epochs
    method.to(device).train()
    x, motion = x.to(device), motion.to(device)
    spans = None if spans is None else spans.to(device)
    model: nn.Module = method
    if info.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(method, device_ids=ids)
    optimizer = make_optimizer(method, cfg)
    start_epoch, history = 0, History()
    if state_dir is not None:
        _make_state_dir(state_dir)
        start_epoch, history = _load_state(state_dir, method, optimizer, fingerprint)
    if live is not None:
        live.log_params({"steps_per_epoch": steps_per_epoch, "total_steps": total,
                         "processes": info.world, "grad_accum": micro})
        for row in history.rows:  # a resumed run's steps so far, from its checkpoint
            _log_row(live, row)
        if history.rows:
            live.sync()
    log.info("pretrain: %d samples, %d steps (%d/epoch), device %s%s", n, total, steps_per_epoch,
             device, ", bf16 autocast" if amp else "")
    started = time.perf_counter()
    for epoch in track(range(start_epoch, cfg.epochs), "pretrain epochs", total=cfg.epochs - start_epoch):
        order = torch.randperm(n, generator=torch_generator(seed, "epoch", epoch)).to(device)
        for b in range(steps_per_epoch):
            step = epoch * steps_per_epoch + b
            lr = lr_at(step, total, warmup, cfg.lr, cfg.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            shard_ids = order[b * batch_size:(b + 1) * batch_size].tensor_split(shards)
            optimizer.zero_grad(set_to_none=True)
            losses, logs = [], []
            for j in range(micro):
                shard = info.rank + j * info.world  # this process's j-th shard of the global batch
                idx = shard_ids[shard]
                gen = torch_generator(seed, "step", step, "shard", shard, device=device)
                torch.manual_seed(derive_seed(seed, "global", step, shard))  # dropout, drop-path
                last = j == micro - 1
                with nullcontext() if last or info.world == 1 else model.no_sync():
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                        out = model(Batch(x[idx], motion[idx], None if spans is None else spans[idx]), gen)
                    if not torch.isfinite(out.loss):
                        raise FloatingPointError(f"non-finite loss at step {step}: {out.loss.item()}")
                    (out.loss / micro).backward()
                losses.append(out.loss.item())
                logs.append(out.logs)
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(method.parameters(), max_norm)
            optimizer.step()
            extra = method.after_step(step + 1, total)
            loss = mean_across(sum(losses) / micro, device)
            averaged = {k: sum(d[k] for d in logs) / micro for k in logs[0]}
            history.rows.append({"step": step, "epoch": epoch, "lr": lr, "loss": loss,
                                 "grad_norm": grad_norm.item(), **averaged, **extra})
            if live is not None:
                _log_row(live, history.rows[-1])
        done = epoch + 1
        if live is not None:
            live.sync()
        if state_dir is not None and every and (done % every == 0 or done == cfg.epochs):
            if info.is_main:
                _save_state(state_dir, method, optimizer, done, history, fingerprint)
            barrier()
        log.info("epoch %d/%d loss %.4f (%.0f s)", done, cfg.epochs, history.rows[-1]["loss"],
                 time.perf_counter() - started)
    return history
