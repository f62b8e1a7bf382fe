"""Stage `synthesize`: write the embedded dataset as NTU `.skeleton` files."""

from __future__ import annotations

from pathlib import Path

from skelssl.config import Params
from skelssl.console import log
from skelssl.data.synth import synthesize
from skelssl.outputs import atomic_dir


def run(params: Params, out_dir: Path) -> None:
    with atomic_dir(out_dir, "synthesize") as tmp:
        paths = synthesize(params.synthesize, tmp)
    log.info("synthesize: wrote %d files to %s", len(paths), out_dir)
