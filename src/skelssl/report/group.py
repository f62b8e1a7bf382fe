"""Report rows over experiments: the experiments that differ only in their seed form one group,
shown as mean ± std with the experiments' names and revisions listed as its provenance.

Grouping key (choices of ours): workspace or experiment; the code an experiment ran (`Row.code`,
`collect.code_version`: the stage dependencies in its own commit's dvc.lock, which is what DVC
compares to decide whether a stage re-runs, and the pinned libraries; experiments of commits that
differ only in tests, docs, the CLI or the report's code are averaged, different code never is; the
commit it ran from where that is unknown); method, data source, input and split
(`spec.ROW_PARAMS`); and the values of every other param that differs between the report's
experiments, except the seeds (`spec.SEED_PARAMS`) and the `methods.<id>` blocks of methods a row
did not run (params.yaml carries all five blocks; only the selected one is used). The differing
params a group was run with are its `setting`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from skelssl.config import MethodName
from skelssl.report.collect import Row, Scalar
from skelssl.report.spec import EMBEDDED_INPUTS, ROW_PARAMS, SEED_PARAMS

_MISSING = object()


@dataclass(frozen=True)
class Group:
    rows: tuple[Row, ...]
    setting: tuple[tuple[str, Any], ...] = ()  # (param, value) of the params that set this row apart

    @property
    def first(self) -> Row:
        return self.rows[0]

    @property
    def method(self) -> str:
        return self.first.method

    @property
    def split(self) -> str:
        return self.first.split

    @property
    def source(self) -> str:
        return self.first.source

    @property
    def input(self) -> str:
        return self.first.input

    @property
    def embedded(self) -> bool:
        return self.input in EMBEDDED_INPUTS

    @property
    def data_label(self) -> str:
        return self.first.data_label

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def timestamp(self) -> datetime | None:
        stamps = [r.timestamp for r in self.rows if r.timestamp is not None]
        return max(stamps) if stamps else None

    @property
    def seeds(self) -> list[Any]:
        return [next((r.params[k] for k in SEED_PARAMS if k in r.params), None) for r in self.rows]

    def values(self, candidates: Sequence[str]) -> list[Scalar]:
        """Per experiment, the first candidate key it has (experiments without any are left out)."""
        found = (next((r.metrics[k] for k in candidates if k in r.metrics), None) for r in self.rows)
        return [v for v in found if v is not None]

    @property
    def setting_label(self) -> str:
        return ", ".join(f"{_short(key, self.method)}={value}" for key, value in self.setting)


def _short(key: str, method: str) -> str:
    prefix = f"methods.{method}."
    return key[len(prefix):] if key.startswith(prefix) else key


def _relevant(row: Row) -> dict[str, Any]:
    """The row's params that may set it apart: not the seeds, not the row fields, not the blocks of
    methods it did not run."""
    skip = set(SEED_PARAMS) | set(ROW_PARAMS.values())
    return {k: v for k, v in row.params.items() if k not in skip and _applies(k, row)}


def _applies(key: str, row: Row) -> bool:
    """Whether a param concerns the row: `methods.<id>.*` only rows of that method, others all."""
    other = tuple(f"methods.{m}." for m in get_args(MethodName) if m != row.method)
    return not key.startswith(other)


def differing_params(rows: Sequence[Row]) -> list[str]:
    """Params (other than seeds and row fields) whose value, or presence, varies across the rows
    they concern (a method's block: the rows of that method)."""
    relevant = [_relevant(r) for r in rows]
    keys = list(dict.fromkeys(k for params in relevant for k in params))
    return [k for k in keys
            if len({repr(p.get(k, _MISSING)) for r, p in zip(rows, relevant, strict=True) if _applies(k, r)}) > 1]


def group_rows(rows: Sequence[Row]) -> list[Group]:
    """Groups in the order of their first row."""
    differing = differing_params(rows)
    groups: dict[tuple, list[Row]] = {}
    settings: dict[tuple, tuple[tuple[str, Any], ...]] = {}
    for row in rows:
        relevant = _relevant(row)
        setting = tuple((k, relevant[k]) for k in differing if k in relevant)
        absent = [k for k in differing if k not in relevant and _applies(k, row)]
        key = (row.origin == "workspace", row.code or row.baseline, row.method, row.source, row.input, row.split,
               repr(setting), repr(absent))
        groups.setdefault(key, []).append(row)
        settings[key] = setting
    return [Group(tuple(members), settings[key]) for key, members in groups.items()]


def mean_std(values: Sequence[Scalar]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1; None for a single value)."""
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)
