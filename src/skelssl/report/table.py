"""The Markdown report: rows = experiments, columns = protocols (`spec.COLUMNS`), then the papers'
reported numbers (`spec.PAPER_COLUMNS`, split `spec.PAPER_SPLIT`) in separate columns.

Cells: accuracies with `spec.DIGITS` decimals; "a ± b" (mean ± std over repeats); "a (best b, ep c)"
(last epoch headline, best epoch labelled); "a / b"; "–" when a row lacks the metric. A paper cell
carries "†" when methods.md marks the number unverified.
"""

from __future__ import annotations

from collections.abc import Sequence

from skelssl.report.collect import Row, Scalar
from skelssl.report.paper import PaperResults, PaperValue
from skelssl.report.spec import COLUMNS, DIGITS, PAPER_COLUMNS, PAPER_SPLIT, Column, PaperColumn

MISSING = "–"
UNVERIFIED = "†"


def fmt(value: Scalar | None, digits: int = DIGITS) -> str:
    if value is None:
        return MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if digits == 0 else f"{value:.{digits}f}"
    return f"{value:.{digits}f}"


def part(row: Row, candidates: Sequence[str]) -> Scalar | None:
    """The first candidate key the row has."""
    return next((row.metrics[key] for key in candidates if key in row.metrics), None)


def cell(row: Row, column: Column) -> str:
    values = [part(row, candidates) for candidates in column.parts]
    head = values[0]
    if column.style == "pair":
        return MISSING if all(v is None for v in values) else " / ".join(fmt(v) for v in values)
    if head is None:
        return MISSING
    if column.style == "mean_std" and len(values) > 1 and values[1] is not None:
        return f"{fmt(head)} ± {fmt(values[1])}"
    if column.style == "last_best" and len(values) > 1 and values[1] is not None:
        epoch = f", ep {fmt(values[2], 0)}" if len(values) > 2 and values[2] is not None else ""
        return f"{fmt(head)} (best {fmt(values[1])}{epoch})"
    return fmt(head)


def paper_cell(value: PaperValue | None) -> str:
    if value is None:
        return MISSING
    tag = f" ({value.cell})" if value.cell else ""
    return f"{fmt(value.value)}{tag}{UNVERIFIED if value.unverified else ''}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_escape(c) for c in cells) + " |"


def paper_lookup(paper: PaperResults, method: str, column: PaperColumn) -> PaperValue | None:
    return paper.lookup(method, column.protocol, PAPER_SPLIT, column.variant)


def render_table(rows: Sequence[Row], paper: PaperResults,
                 columns: Sequence[Column] = COLUMNS,
                 paper_columns: Sequence[PaperColumn] = PAPER_COLUMNS) -> str:
    split = paper.split_label(PAPER_SPLIT)
    header = ["experiment", "method", "data", *(c.label for c in columns),
              *(f"paper ({split}): {c.label}" for c in paper_columns)]
    lines = [_line(header), "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
    for row in rows:
        lines.append(_line([row.name, row.method, row.data_label, *(cell(row, c) for c in columns),
                            *(paper_cell(paper_lookup(paper, row.method, c)) for c in paper_columns)]))
    return "\n".join(lines)


def render_sources(methods: Sequence[str], paper: PaperResults,
                   paper_columns: Sequence[PaperColumn] = PAPER_COLUMNS) -> list[str]:
    lines: list[str] = []
    for method in dict.fromkeys(methods):
        info = paper.method_info(method)
        if info is None:
            continue
        used = []
        for column in paper_columns:
            value = paper_lookup(paper, method, column)
            if value is not None:
                note = f"; {value.note}" if value.note else ""
                mark = UNVERIFIED if value.unverified else ""
                used.append(f"{column.label} {fmt(value.value)}{mark} ({value.variant}; {value.source}{note})")
        numbers = "; ".join(used) if used else "no reported number for these columns"
        note = f" {info['note'][:1].upper()}{info['note'][1:]}." if info.get("note") else ""
        lines.append(f"- **{method}**: {info['paper']}, {info['section']}. {numbers}.{note}")
    return lines


def render_report(rows: Sequence[Row], paper: PaperResults, origin: str = "workspace",
                  figure: str | None = "report.png") -> str:
    split = paper.split_label(PAPER_SPLIT)
    embedded = any(row.embedded for row in rows)
    out = [
        "# skelssl comparison report",
        "",
        f"Top-1 accuracy (%) on each row's test split; rows from: {origin}. "
        f"The `paper ({split})` columns are the papers' reported numbers, for reference only.",
        "",
        render_table(rows, paper),
        "",
        "Notes:",
        "",
        "- Headline numbers are the **last epoch**. `best` (fine-tune, scratch) is the best epoch measured "
        "on the test split itself: labelled, and optimistic.",
        "- semi: mean ± std over the repeats (last epoch of each). scratch: the fine-tune recipe from a "
        "random-init encoder (semi … scratch: on the same label subsets). random-init: the same protocol "
        "with the randomly initialised encoder (what pretraining adds). robustness AUC: mean top-1 over the "
        "joints-dropped curve (random / centrality).",
        f"- {MISSING}: not measured for that row (or no reported number). {UNVERIFIED}: methods.md marks the "
        "number (or its attribution) unverified.",
        ("- Rows marked *(embedded)* ran on the embedded synthetic dataset: **not comparable** to NTU "
         "numbers or to the paper columns." if embedded else
         "- Paper columns come from different schedules, backbones and preprocessing: compare with care."),
        "",
        f"Paper numbers used ({split}):",
        "",
        *render_sources([row.method for row in rows], paper),
    ]
    if figure:
        out += ["", f"![comparison]({figure})"]
    return "\n".join(out) + "\n"
