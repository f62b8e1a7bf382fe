"""The papers' reported numbers (package data `paper_results.json`), for reference columns.

Facts followed: every number, source tag and "unverified" mark is transcribed from
/work/shared/design/methods.md (§1.6 MAMP, §2.6 Skeleton2vec, §3.6 graph SkeletonMAE, §4.2
SkeletonMAE-ST, §5.6 PSTL); numbers the note calls unverified *without* giving a value are absent.
Choice of ours: records are in preference order and a lookup returns the first match (so
SkeletonMAE-ST shows the MAMP-lineage transformer set, which matches our backbone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, get_args

from skelssl.config import MethodName
from skelssl.errors import SkelsslError

RESOURCE = "paper_results.json"
FORMAT = 1


@dataclass(frozen=True)
class PaperValue:
    method: str
    protocol: str
    variant: str
    split: str
    value: float
    source: str
    unverified: bool
    cell: str | None = None
    note: str | None = None


def load_raw() -> dict[str, Any]:
    return json.loads(resources.files("skelssl.report").joinpath(RESOURCE).read_text())


def validate(data: Any) -> list[str]:
    """Problems with a paper-results document, one line each (empty when valid)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return [f"format must be {FORMAT}"]
    splits, protocols = data.get("splits") or {}, data.get("protocols") or {}
    methods = data.get("methods") or {}
    problems = [f"method {m} missing" for m in get_args(MethodName) if m not in methods]
    problems += [f"unknown method {m}" for m in methods if m not in get_args(MethodName)]
    for method, entry in methods.items():
        for i, rec in enumerate(entry.get("results") or []):
            where = f"{method}.results[{i}]"
            if rec.get("protocol") not in protocols:
                problems.append(f"{where}: unknown protocol {rec.get('protocol')!r}")
            if not isinstance(rec.get("source"), str) or not rec["source"]:
                problems.append(f"{where}: source missing")
            if not isinstance(rec.get("unverified"), bool):
                problems.append(f"{where}: unverified must be true or false")
            values = rec.get("values")
            if not isinstance(values, dict) or not values:
                problems.append(f"{where}: no values")
                continue
            for split, value in values.items():
                if split not in splits:
                    problems.append(f"{where}: unknown split {split!r}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                    problems.append(f"{where}.{split}: {value!r} is not a percentage")
            for split in rec.get("unverified_splits") or []:
                if split not in values:
                    problems.append(f"{where}: unverified split {split!r} has no value")
    return problems


@dataclass(frozen=True)
class PaperResults:
    data: dict[str, Any]

    @classmethod
    def load(cls) -> PaperResults:
        data = load_raw()
        problems = validate(data)
        if problems:
            raise SkelsslError(f"{RESOURCE}: {problems[0]}")
        return cls(data)

    def split_label(self, split: str) -> str:
        return self.data["splits"].get(split, split)

    def method_info(self, method: str) -> dict[str, Any] | None:
        return self.data["methods"].get(method)

    def lookup(self, method: str, protocol: str, split: str, variant: str | None = None) -> PaperValue | None:
        """The first record of `method` with `protocol` (and `variant`) that has `split`."""
        entry = self.method_info(method)
        for rec in (entry or {}).get("results", []):
            if rec["protocol"] != protocol or (variant is not None and rec["variant"] != variant):
                continue
            if split in rec["values"]:
                return PaperValue(method, protocol, rec["variant"], split, float(rec["values"][split]),
                                  rec["source"],
                                  rec["unverified"] or split in rec.get("unverified_splits", []),
                                  rec.get("cell"), rec.get("note"))
        return None
