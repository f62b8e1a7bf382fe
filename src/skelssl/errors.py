"""Domain errors. The CLI prints them as one line and exits with status 1 (no traceback)."""

from __future__ import annotations

from pathlib import Path


class SkelsslError(Exception):
    """An error caused by the user's input (files, params), reported as one line."""


class ParseError(SkelsslError):
    """A malformed input file; names the file and the 1-based line."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class ParamsError(SkelsslError):
    """An invalid params.yaml; names the dotted key."""
