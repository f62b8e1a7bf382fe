"""Stages start with only the libraries they use (issue 14 item 9: every stage imported torch, about
1 s of a stage's start-up on 2 cores, and two stage start-ups were most of an end-to-end ingest +
preprocess; `benchmarks/ingest.py` measures that end to end).

Importing torch, scikit-learn, matplotlib or dvclive costs 0.3-1 s each; the data stages and the
CLI need none of them. The `skelssl` command and the stage runner parse arguments before a stage
runs, so they import no numerical library at all (`skelssl --help`, `--version` and shell
completion stay fast). `scipy.linalg` is absent after import: numba loads it itself when the first
compiled kernel is dispatched (its BLAS check, about 0.2 CPU s), which no import order here avoids.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["torch", "sklearn", "matplotlib", "dvclive", "scipy.linalg", "scipy.io"]
NUMERICAL = ["numpy", "numba", "polars", "pyarrow", "pandas"]

CASES = {
    "skelssl.pipeline.ingest": HEAVY + ["skelssl.kernels.batch"],  # preprocess's kernel
    "skelssl.pipeline.preprocess": HEAVY + ["skelssl.data.sources"],  # the readers
    "skelssl.pipeline.synthesize": HEAVY + ["numba", "polars"],
    "skelssl.cli": HEAVY + NUMERICAL,
    "skelssl.runner": HEAVY + NUMERICAL,
}


def imported(module: str, names: list[str]) -> list[str]:
    """Which of `names` are in sys.modules after importing `module` in a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(n for n in {names!r} if n in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("module", sorted(CASES))
def test_no_needless_import(module):
    assert imported(module, CASES[module]) == []
