"""Shared fixtures. Tests run on the CPU with fixed seeds and tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest

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
