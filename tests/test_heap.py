"""skelssl.heap: after keep_freed_memory(), freed large blocks are reused without new page faults."""

import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from skelssl.heap import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory() and keep_freed_memory()  # idempotent
faults = []
for _ in range(6):  # a "training step": the same large tensors allocated, used and freed again
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    live = [torch.empty(n * 2**20).fill_(1.0) for n in (16, 12, 20, 16)]  # 64, 48, 80, 64 MB
    live.append(live[0] + live[3])
    del live
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(min(faults[-2:]))
"""
PAGES = (64 + 48 + 80 + 64 + 64) * 2**20 // 4096


def minor_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt only")
def test_freed_large_blocks_are_reused_without_page_faults():
    assert minor_faults("off") > PAGES // 2  # glibc's default: a fresh mmap, every page faults again
    assert minor_faults("on") < PAGES // 10  # kept in the heap: the pages are already mapped


def test_can_be_switched_off_by_environment(monkeypatch):
    import skelssl.heap as heap

    monkeypatch.setenv("SKELSSL_KEEP_HEAP", "0")
    monkeypatch.setattr(heap, "_applied", False)
    assert heap.keep_freed_memory() is False
