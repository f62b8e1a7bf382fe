"""Multi-process training through `torchrun` (DDP): process group set-up and small helpers.

`torchrun --nproc_per_node=N stages/pretrain.py ...` starts N processes; each sees WORLD_SIZE,
RANK and LOCAL_RANK in its environment. CUDA processes use NCCL and their own GPU; CPU processes
use gloo (how the tests run DDP). Outside torchrun everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the torchrun process group if there is one; returns the rank info and the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(), device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size()), device


def current() -> Dist:
    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    return Dist()


def mean_across(value: float, device: torch.device) -> float:
    """Average of a scalar over all processes (for logging); the value itself when alone."""
    info = current()
    if info.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.item() / info.world


def barrier() -> None:
    if current().world > 1:
        dist.barrier()
