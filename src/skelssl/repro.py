"""Reproducibility: seeds, explicit generators, thread and determinism settings (one place)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from skelssl.heap import keep_freed_memory


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed derived from a base seed and keys (e.g. a stage name, a step index)."""
    text = ":".join(str(k) for k in (seed, *keys)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & (2**63 - 1)


def torch_generator(seed: int, *keys: int | str, device: str | torch.device = "cpu") -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, *keys))
    return gen


def numpy_generator(seed: int, *keys: int | str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *keys))


def configure_torch(threads: int, deterministic: bool = True) -> None:
    """Thread count (0 keeps torch's default), deterministic kernels where available, and heap
    reuse for large CPU tensors (`skelssl.heap`)."""
    keep_freed_memory()
    if threads > 0:
        torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def resolve_device(choice: str) -> torch.device:
    from skelssl.errors import ParamsError

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ParamsError("pretrain.device: 'cuda' requested but no CUDA device is available")
    return torch.device(choice)
