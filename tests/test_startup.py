"""Stages without a model start without torch (about 1 s of a stage's start-up on 2 cores)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["skelssl.pipeline.ingest", "skelssl.pipeline.preprocess",
                                    "skelssl.pipeline.synthesize", "skelssl.cli", "skelssl.runner"])
def test_no_torch_import(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
