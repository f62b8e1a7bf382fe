"""The NTU RGB+D 60/120 sample-name sets and the official missing-skeleton lists (methods.md §7.1).

Facts followed:
- A sample is `SsssCcccPpppRrrrAaaa`. Every (setup, performer) pair that exists was recorded with all
  3 cameras, both replications and every action of its part of the dataset: actions 1-60 in setups
  1-17 (NTU-60), actions 61-120 in setups 18-32 (the NTU-120 extension). That gives
  158 pairs × 360 = 56,880 NTU-60 and 56,880 + 160 × 360 = 114,480 NTU-120 samples.
- `SETUP_PERFORMERS` (which performers appear in which setup) is not in methods.md; it was derived
  from the per-sample `setup.txt`/`performer.txt` statistics files that the CTR-GCN code ships for
  NTU-60 and NTU-120 (methods.md §7.1 "statistics files"). Generated from it and reduced by the
  missing lists, the names reproduce exactly 56,578 / 113,945 usable samples and all eight published
  split sizes (tests/test_ntu120.py).
- Missing-skeleton lists: package data `ntu_missing/ntu60.txt` (302 names) and `ntu120.txt` (535,
  a superset of the NTU-60 list), the dataset authors' lists. File format: one sample name per
  line; blank lines and `#` comment lines are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from skelssl.data.ntu import parse_sample_name
from skelssl.errors import ParseError

Dataset = Literal["ntu60", "ntu120"]

MISSING_LISTS: dict[str, str] = {"ntu60": "ntu60.txt", "ntu120": "ntu120.txt"}

NTU60_SETUPS = range(1, 18)
NTU120_SETUPS = range(18, 33)  # the extension's setups; NTU-120 = both ranges
CAMERAS = (1, 2, 3)
REPLICATIONS = (1, 2)

# setup → performer IDs recorded in it (see the module docstring for the source).
SETUP_PERFORMERS: dict[int, tuple[int, ...]] = {
    1: (1, 2, 3, 4, 5, 6, 7, 8),
    2: (3, 7, 8, 9, 10, 11, 12, 13, 14),
    3: (1, 2, 7, 8, 15, 16, 17, 18, 19),
    4: (3, 7, 8, 20),
    5: (4, 10, 13, 15, 16, 17, 18, 21),
    6: (1, 7, 8, 15, 16, 17, 19, 22, 23, 24),
    7: (1, 7, 8, 15, 16, 17, 18, 19, 25, 26, 27, 28),
    8: (1, 7, 8, 15, 19, 25, 29, 30, 31, 32, 33, 34, 35, 36),
    9: (7, 8, 15, 16, 17, 19, 25),
    10: (7, 8, 13, 15, 16, 17, 18, 19, 21, 25),
    11: (1, 2, 7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 38),
    12: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37),
    13: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37),
    14: (7, 8, 15, 17, 19, 25, 27, 37, 39),
    15: (7, 8, 15, 16, 17, 19, 25, 37),
    16: (7, 8, 19, 21, 25, 39, 40),
    17: (3, 7, 8, 9, 15, 16, 17, 20),
    18: (8, 41, 42, 43, 44, 45),
    19: (8, 41, 42, 46, 47, 48, 49, 50, 51),
    20: (8, 41, 43, 44, 52, 53, 54),
    21: (55, 56, 57, 58, 59, 60),
    22: (61, 62, 63, 64, 65, 66, 67),
    23: (55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68),
    24: (57, 60, 61, 62, 63, 64, 67),
    25: (55, 56, 58, 59, 65, 66, 68),
    26: (8, 41, 44, 49, 50, 51, 69, 70, 71, 72, 74, 75, 76, 77),
    27: (6, 8, 11, 41, 43, 44, 78, 79, 80, 81, 82, 83, 84, 85, 86),
    28: (8, 41, 42, 43, 46, 48, 70, 73, 87),
    29: (6, 8, 41, 43, 44, 48, 49, 51, 67, 74, 75, 80, 88, 89, 90),
    30: (8, 11, 41, 43, 44, 48, 67, 75, 76, 81, 85, 88, 91, 92, 93, 94, 95, 96),
    31: (6, 8, 41, 42, 43, 44, 51, 67, 82, 85, 96, 97, 98, 99, 100, 101),
    32: (8, 41, 43, 44, 67, 102, 103, 104, 105, 106),
}


def _names(setups: Iterable[int], actions: range) -> list[str]:
    return [
        f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}"
        for s in setups for c in CAMERAS for p in SETUP_PERFORMERS[s] for r in REPLICATIONS
        for a in actions
    ]  # fmt: skip


def all_sample_names(dataset: Dataset) -> list[str]:
    """Every sample name of the dataset as recorded (missing skeletons included), sorted."""
    names = _names(NTU60_SETUPS, range(1, 61))
    if dataset == "ntu120":
        names += _names(NTU120_SETUPS, range(61, 121))
    return names


def read_name_list(path: str | Path, text: str | None = None) -> frozenset[str]:
    """Sample names of a list file (one per line; blank and `#` lines ignored).

    ParseError(path, line, ...) for a line that is not a valid sample name or repeats one.
    """
    path = Path(path)
    if text is None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ParseError(path, 0, f"cannot read file: {exc.strerror or exc}") from None
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            name = parse_sample_name(line).name
        except ValueError as exc:
            raise ParseError(path, number, str(exc)) from None
        if name in names:
            raise ParseError(path, number, f"{name} is listed twice")
        names.add(name)
    return frozenset(names)


@cache
def missing_samples(dataset: Dataset) -> frozenset[str]:
    """The official missing-skeleton samples of NTU-60 (302) or NTU-120 (535, includes NTU-60's)."""
    resource = resources.files("skelssl.data").joinpath("ntu_missing", MISSING_LISTS[dataset])
    return read_name_list(f"skelssl/data/ntu_missing/{MISSING_LISTS[dataset]}", resource.read_text())
