"""Paper presets: `presets/<method>-paper.txt` files of `key=value` lines (the `-S` overrides of
`dvc exp run`), applied to a params dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from skelssl.errors import ParamsError


def read_preset(path: Path) -> list[str]:
    """The `key=value` lines of a preset file (comments and blank lines dropped)."""
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def apply_overrides(params: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted `key=value` (value parsed as YAML) in `params`; every key must exist."""
    yaml = YAML(typ="safe", pure=True)
    for line in overrides:
        key, sep, value = line.partition("=")
        if not sep:
            raise ParamsError(f"override {line!r}: expected key=value")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                raise ParamsError(f"override {key}: unknown key")
            node = node[part]
        if leaf not in node:
            raise ParamsError(f"override {key}: unknown key")
        node[leaf] = yaml.load(value)
    return params
