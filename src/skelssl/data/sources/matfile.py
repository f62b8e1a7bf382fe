"""Reading MATLAB v5 `.mat` files (UTD-MHAD, Penn Action) with `scipy.io.loadmat`.

Every failure to parse becomes a ParseError of the file (line 0), so `ingest.on_error: skip` can
skip a corrupt file; MATLAB v7.3 files (HDF5) are refused with that message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skelssl.errors import ParseError


def load_mat(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named variables of a MATLAB v5 file; ParseError when it cannot be read or lacks one."""
    from scipy.io import loadmat  # imported here: only the .mat sources need scipy
    from scipy.io.matlab import MatReadError

    try:
        data: dict[str, Any] = loadmat(path, variable_names=list(keys))
    except NotImplementedError:
        raise ParseError(path, 0, "MATLAB v7.3 (HDF5) files are not supported; save as v5 (-v7)") from None
    except (MatReadError, OSError, ValueError, TypeError, EOFError, IndexError, KeyError, UnicodeDecodeError,
            MemoryError, OverflowError, AssertionError) as exc:
        raise ParseError(path, 0, f"not a readable MATLAB .mat file: {exc}") from None
    missing = [k for k in keys if not isinstance(data.get(k), np.ndarray)]
    if missing:
        have = ", ".join(sorted(k for k in data if not k.startswith("__"))) or "nothing"
        raise ParseError(path, 0, f"no variable {', '.join(missing)} (has: {have})")
    return {k: data[k] for k in keys}


def mat_string(path: Path, value: np.ndarray, key: str) -> str:
    """A MATLAB char variable (scipy gives a 1-element str array) as a str; ParseError otherwise."""
    if value.dtype.kind != "U" or value.size != 1:
        raise ParseError(path, 0, f"{key}: expected a string, got {value.dtype} array of shape {value.shape}")
    return str(value.reshape(-1)[0])


def mat_number(path: Path, value: np.ndarray, key: str) -> float:
    """A MATLAB numeric scalar (any shape of one element) as a float; ParseError otherwise."""
    if value.dtype.kind not in "iuf" or value.size != 1:
        raise ParseError(path, 0, f"{key}: expected a number, got {value.dtype} array of shape {value.shape}")
    number = float(value.reshape(-1)[0])
    if not np.isfinite(number):
        raise ParseError(path, 0, f"{key}: not a finite number")
    return number


def mat_array(path: Path, value: np.ndarray, key: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """A real numeric array as float64 (uint8/uint16 cast first: no wrap-around in arithmetic);
    `shape` entries of None match any size. ParseError on another shape, dtype or a non-finite value."""
    if value.dtype.kind not in "iuf":
        raise ParseError(path, 0, f"{key}: expected numbers, got {value.dtype}")
    if value.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, value.shape, strict=True)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ParseError(path, 0, f"{key}: shape {value.shape}, expected {want}")
    out = value.astype(np.float64)
    if not np.isfinite(out).all():
        raise ParseError(path, 0, f"{key}: NaN or infinite values")
    return out
