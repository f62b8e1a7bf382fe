"""What a data source gives the ingest stage: labelled clips in a known skeleton layout.

A source turns one dataset in its original form (NTU `.skeleton` files, PKU-MMD sequences + label
files, a CTR-GCN `.npz`, ...) into `Clip`s. The ingest stage (`skelssl.pipeline.ingest`) lists a
source's work items, reads them (possibly in worker processes, so items must be picklable) and
streams the clips into the ingest artifact. Sources never write files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from skelssl.config import IngestParams
from skelssl.errors import ParseError


@dataclass(frozen=True)
class Clip:
    """One labelled action sequence."""

    name: str  # unique within the dataset (file stem, or stem + frame range)
    label: int  # 0-based class index
    joints: np.ndarray  # (T, M, V, C) float32; persons beyond the actors are all-zero
    meta: Mapping[str, int | str]  # source columns for the index (performer, camera, ...)
    splits: Mapping[str, bool]  # "<split>_train" → True on the training side of that benchmark


class Source:
    """A dataset format. Subclasses set the class attributes and implement `items` and `read`."""

    name: ClassVar[str]  # key in SOURCES and value of `ingest.source`
    layout: ClassVar[str]  # key of skelssl.skeleton.LAYOUTS
    persons: ClassVar[int]  # M of every clip

    def items(self, root: Path, cfg: IngestParams) -> Sequence[Any]:
        """Picklable units of work (usually files) in a fixed order; SkelsslError naming the
        `ingest.input` param when `root` is missing or holds nothing of this format."""
        raise NotImplementedError

    def read(self, item: Any, cfg: IngestParams) -> list[Clip]:
        """The clips of one item; ParseError (file + 1-based line) when it is malformed."""
        raise NotImplementedError


def read_text(path: Path) -> str:
    """A text file's content; ParseError naming the 1-based line of the first byte that is not
    UTF-8 (fuzzing found raw UnicodeDecodeErrors escaping the text-format readers)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
