"""Shared fixtures. Tests run on the CPU with fixed seeds and tiny data."""

from __future__ import annotations

from pathlib import Path

import dvc  # noqa: F401  (see below)
import pytest
import torch

# DVC sets up its log handlers when it is first imported, on the sys.stdout of that moment. Imported
# first inside a test that swaps sys.stdout (typer's CliRunner, capsys), every later DVC log line
# would go to that test's closed stream and raise. Importing it here binds them to pytest's stream.

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def real_data():
    """Path of one dataset folder under ../shared/data/real; skips the test when it is absent.

    The real datasets are for research use only: tests read them in place, never copy them.
    """

    def get(name: str) -> Path:
        path = REAL_DATA / name
        if not path.is_dir():
            pytest.skip(f"real dataset {path} not present")
        return path

    return get


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests use tiny tensors: one thread is fastest, and immune to the OpenMP stalls that a busy
    2-core machine inflicts on multi-threaded torch (measured: up to 15x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
