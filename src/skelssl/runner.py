"""Runs one stage function with params loaded, logging set up, and errors as one line + exit 1."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from skelssl.config import Params, load_params
from skelssl.console import console, setup_logging
from skelssl.errors import SkelsslError


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(1)


def run_stage(fn: Callable[..., None], paths: list[str], params_file: str | Path = "params.yaml") -> None:
    """Call `fn(params, *paths)`; a SkelsslError becomes one line on stderr and exit code 1."""
    setup_logging()
    expected = len(inspect.signature(fn).parameters) - 1
    if len(paths) != expected:
        module = fn.__module__.rsplit(".", 1)[-1]
        fail(f"stage {module} takes {expected} paths, got {len(paths)}: {' '.join(paths) or '(none)'}")
    try:
        params: Params = load_params(params_file)
        fn(params, *(Path(p) for p in paths))
    except SkelsslError as exc:
        fail(str(exc))


def stage_main(fn: Callable[..., None]) -> None:
    """Entry point of a `stages/*.py` shim: paths come from argv (dvc.yaml's cmd)."""
    run_stage(fn, sys.argv[1:])
