"""Keep freed memory in the process heap so that large tensors reuse pages already mapped.

glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh `mmap` and
returns it with `munmap` on free. A training step allocates and frees the same large activations
and gradients every time (PSTL at its paper config: 85 MB unit outputs, 151 MB projector weight
gradients), so each step pays the kernel's first-touch page faults again: filling a fresh 151 MB
tensor took 55–60 ms against 8–9 ms for a reused one, and PSTL's batch-128 step took 0.6–1.7
million minor page faults and 6.8–10 s, against a handful of faults and 4.4–4.7 s with this
setting (docs/benchmarks.md). PyTorch's CPU performance guide recommends a caching
allocator (jemalloc, tcmalloc) preloaded for this reason; glibc's own `mallopt` gives the same
reuse without a new dependency or an LD_PRELOAD: M_MMAP_MAX = 0 (large blocks come from the heap)
and M_TRIM_THRESHOLD at its maximum (freed heap memory is kept for the next step).

The cost: the process keeps its peak heap size until it exits (fine for a training or evaluation
process). Only the allocator changes, never a value. Applies on Linux with glibc; elsewhere, or
with SKELSSL_KEEP_HEAP=0 in the environment, it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
INT_MAX = 2**31 - 1

_applied = False


def keep_freed_memory() -> bool:
    """Switch glibc to heap-only allocation without trimming; True when it is (now or before)."""
    global _applied
    if _applied:
        return True
    if os.environ.get("SKELSSL_KEEP_HEAP", "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _applied = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, INT_MAX))
    except (OSError, AttributeError):
        return False
    return _applied
