"""Training-step throughput of every method at its CPU default and its paper preset.

Usage: python benchmarks/pretrain.py [--methods mamp,pstl] [--steps 3] [--warmup 2] [--batch 16]
[--device cpu]
Prints a Markdown table (samples/s, s/step) for fp32 and bf16 autocast: the mean of `--steps`
steps after `--warmup` untimed ones (two by default: the heap and the optimiser state reach their
steady size in the first two steps, see skelssl.heap). The process runs with the training stages'
settings (`configure_torch`: heap reuse; SKELSSL_KEEP_HEAP=0 measures without it). Input: random
skeletons of the preset's frame count with both persons present (the paper configs encode both
persons), so the timings do not depend on the data. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from ruamel.yaml import YAML

from skelssl.config import Params
from skelssl.methods import METHODS, Batch, build_method
from skelssl.presets import apply_overrides, read_preset
from skelssl.repro import configure_torch
from skelssl.skeleton import NTU25
from skelssl.train import make_optimizer

ROOT = Path(__file__).resolve().parents[1]


def load(method: str, preset: bool) -> Params:
    raw = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    raw["method"] = method
    if preset:
        apply_overrides(raw, read_preset(ROOT / "presets" / f"{method}-paper.txt"))
    return Params.model_validate(raw)


def time_steps(params: Params, batch: int, steps: int, amp: bool, device: torch.device,
               warmup: int = 2) -> float:
    """Mean seconds per optimiser step (after `warmup` untimed steps)."""
    cfg = params.method_params
    frames = params.preprocess.frames
    torch.manual_seed(0)
    method = build_method(params.method, cfg, NTU25, frames).to(device).train()
    optimizer = make_optimizer(method, cfg.optim)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, 2, frames, 25, 3, device=device, generator=gen) * 0.3
    motion = (x.diff(dim=2, append=x[:, :, -1:]).norm(dim=-1))
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = method(Batch(x, motion), gen)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        method.after_step(i + 1, warmup + steps)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return sum(times) / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed ones")
    parser.add_argument("--batch", type=int, default=16, help="batch for the paper configs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--configs", default="default,paper")
    args = parser.parse_args()
    device = torch.device(args.device)
    configure_torch(0)  # as the stages do (threads: torch's default)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print("| method | config | batch | fp32 s/step | fp32 samples/s | bf16 s/step | bf16 samples/s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.methods.split(","):
        for config in args.configs.split(","):
            params = load(name, preset=config == "paper")
            batch = args.batch if config == "paper" else params.method_params.optim.batch_size
            fp32 = time_steps(params, batch, args.steps, False, device, args.warmup)
            bf16 = time_steps(params, batch, args.steps, True, device, args.warmup)
            print(f"| {name} | {config} (T={params.preprocess.frames}) | {batch} | {fp32:.3f} | "
                  f"{batch / fp32:.1f} | {bf16:.3f} | {batch / bf16:.1f} |", flush=True)


if __name__ == "__main__":
    main()
