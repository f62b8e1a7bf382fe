"""Run by tests/test_ddp.py under `torchrun --nproc_per_node=2`: a few DDP steps on the CPU (gloo).

usage: ddp_worker.py OUT METHOD
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from helpers import ddp_problem  # noqa: E402
from skelssl.distributed import init_from_env  # noqa: E402
from skelssl.train import pretrain  # noqa: E402

if __name__ == "__main__":
    info, device = init_from_env(torch.device("cpu"))
    method, x, motion, optim, run = ddp_problem(grad_accum=1, name=sys.argv[2])
    history = pretrain(method, x, motion, optim, 5, device, run)
    if info.is_main:
        torch.save({"state": method.state_dict(), "loss": [r["loss"] for r in history.rows]}, sys.argv[1])
