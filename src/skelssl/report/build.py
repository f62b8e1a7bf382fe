"""Write `report.md` and `report.png` into a folder.

Both are rendered in memory before either is written, then each is renamed into place
(`skelssl.io.atomic_file`), so a rendering error leaves the previous report untouched. `run` is the
DVC stage (`stages/report.py`): it reads the workspace only, because a stage cannot reliably call
`dvc exp show` on its own repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skelssl.config import Params
from skelssl.console import log
from skelssl.io import atomic_file
from skelssl.outputs import claim_output_dir
from skelssl.report.collect import Row, collect
from skelssl.report.figure import render_png
from skelssl.report.group import group_rows
from skelssl.report.paper import PaperResults
from skelssl.report.table import render_report

MARKDOWN = "report.md"
FIGURE = "report.png"


def claim_report_dir(out_dir: Path) -> None:
    """The report folder is the `report` stage's (skelssl.outputs): refused before any work when
    it holds a report.md / report.png that skelssl did not write."""
    claim_output_dir(out_dir, "report", (MARKDOWN, FIGURE))


def write_report(rows: Sequence[Row], out_dir: Path, origin: str = "workspace") -> tuple[Path, Path]:
    claim_report_dir(out_dir)
    groups = group_rows(rows)  # experiments that differ only in their seed: one report row
    markdown = render_report(groups, PaperResults.load(), origin, figure=FIGURE)
    png = render_png(groups)
    md_path, png_path = Path(out_dir) / MARKDOWN, Path(out_dir) / FIGURE
    with atomic_file(png_path) as tmp:
        tmp.write_bytes(png)
    with atomic_file(md_path) as tmp:
        tmp.write_text(markdown)
    log.info("report: %d experiments in %d rows → %s, %s", len(rows), len(groups), md_path, png_path)
    return md_path, png_path


def run(params: Params, out_dir: Path) -> None:
    claim_report_dir(out_dir)
    write_report(collect("workspace", Path("."), params, git=False), out_dir, "workspace")
