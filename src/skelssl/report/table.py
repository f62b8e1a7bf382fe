"""The Markdown report: one table per protocol family (`spec.TABLES`), rows = groups of experiments
that differ only in their seed (`group`), then the papers' reported numbers (split
`spec.PAPER_SPLIT`) in separate columns, then where every row comes from.

Cells: accuracies with `spec.DIGITS` decimals; "–" when no experiment of the row has the metric.
A row of one experiment: "a ± b" (semi: mean ± std over the label-subset repeats), "a (best b, ep
c)" (last epoch headline, best epoch labelled), "a / b". A row of n > 1 experiments: every value is
"mean ± std" over the experiments (sample std); last_best shows "mean ± std (best mean)"; semi shows
the mean and std over the experiments of each one's repeat mean. "(n=k)" marks a value that only k
of the row's experiments have. A paper cell carries "†" when methods.md marks the number unverified.
"""

from __future__ import annotations

from collections.abc import Sequence

from skelssl.report.collect import Row, Scalar
from skelssl.report.group import Group, group_rows, mean_std
from skelssl.report.paper import PaperResults, PaperValue
from skelssl.report.spec import DIGITS, PAPER_SPLIT, TABLES, Column, PaperColumn, Table

MISSING = "–"
UNVERIFIED = "†"
SHORT_SHA = 7


def fmt(value: Scalar | None, digits: int = DIGITS) -> str:
    if value is None:
        return MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if digits == 0 else f"{value:.{digits}f}"
    return f"{value:.{digits}f}"


def part(row: Row, candidates: Sequence[str]) -> Scalar | None:
    """The first candidate key the row has."""
    return next((row.metrics[key] for key in candidates if key in row.metrics), None)


def _as_group(row: Row | Group) -> Group:
    return row if isinstance(row, Group) else Group((row,))


def _aggregate(values: Sequence[Scalar], n: int) -> str:
    """One experiment's value, or mean ± std over several; "(n=k)" when only k of n have it."""
    if not values:
        return MISSING
    if len(values) == 1:
        text = fmt(values[0])
    else:
        mean, std = mean_std(values)
        text = f"{fmt(mean)} ± {fmt(std)}"
    return text if len(values) == n or n == 1 else f"{text} (n={len(values)})"


def cell(row: Row | Group, column: Column) -> str:
    group = _as_group(row)
    if group.n > 1:
        head = _aggregate(group.values(column.parts[0]), group.n)
        if column.style == "pair":
            parts = [_aggregate(group.values(c), group.n) for c in column.parts]
            return MISSING if all(p == MISSING for p in parts) else " / ".join(parts)
        if column.style == "last_best" and head != MISSING and len(column.parts) > 1:
            best = group.values(column.parts[1])
            return f"{head} (best {fmt(mean_std(best)[0])})" if best else head
        return head
    single = group.first
    values = [part(single, candidates) for candidates in column.parts]
    first = values[0]
    if column.style == "pair":
        return MISSING if all(v is None for v in values) else " / ".join(fmt(v) for v in values)
    if first is None:
        return MISSING
    if column.style == "mean_std" and len(values) > 1 and values[1] is not None:
        return f"{fmt(first)} ± {fmt(values[1])}"
    if column.style == "last_best" and len(values) > 1 and values[1] is not None:
        epoch = f", ep {fmt(values[2], 0)}" if len(values) > 2 and values[2] is not None else ""
        return f"{fmt(first)} (best {fmt(values[1])}{epoch})"
    return fmt(first)


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


def groups_of(items: Sequence[Row] | Sequence[Group]) -> list[Group]:
    """Groups as given, or the rows grouped (`group.group_rows`)."""
    if all(isinstance(item, Group) for item in items):
        return [item for item in items if isinstance(item, Group)]
    return group_rows([item for item in items if isinstance(item, Row)])


def row_label(index: int) -> str:
    return f"R{index + 1}"


def render_table(groups: Sequence[Group], paper: PaperResults, table: Table) -> str:
    split = paper.split_label(PAPER_SPLIT)
    settings = any(g.setting for g in groups)
    lead = ["row", "method", "data", *(["setting"] if settings else []), "n"]
    header = [*lead, *(c.label for c in table.columns), *(f"paper ({split}): {c.label}" for c in table.paper_columns)]
    lines = [_line(header), "|" + "|".join(["---"] * (len(lead) - 1) + ["---:"] * (len(header) - len(lead) + 1)) + "|"]
    for i, group in enumerate(groups):
        lines.append(_line([row_label(i), group.method, group.data_label,
                            *([group.setting_label or MISSING] if settings else []), str(group.n),
                            *(cell(group, c) for c in table.columns),
                            *(paper_cell(paper_lookup(paper, group.method, c)) for c in table.paper_columns)]))
    return "\n".join(lines)


def _short(sha: str | None) -> str:
    return sha[:SHORT_SHA] if sha else "?"


def render_provenance(groups: Sequence[Group]) -> list[str]:
    """One line per table row: every experiment it averages, with its commits, seed and time."""
    lines: list[str] = []
    for i, group in enumerate(groups):
        parts = []
        for row, seed in zip(group.rows, group.seeds, strict=True):
            when = f", {row.timestamp:%Y-%m-%d %H:%M}" if row.timestamp else ""
            if row.origin == "workspace" and row.baseline is None:
                parts.append(f"the workspace's metrics files (seed {seed}{when})")
            elif row.origin == "workspace":
                state = " + uncommitted changes" if row.dirty else ""
                parts.append(f"workspace files at commit `{_short(row.baseline)}`{state} (seed {seed}{when})")
            else:
                parts.append(f"experiment `{row.name}` (`{_short(row.rev)}`, run from commit "
                             f"`{_short(row.baseline)}`; seed {seed}{when})")
        setting = f" [{group.setting_label}]" if group.setting else ""
        lines.append(f"- **{row_label(i)}** {group.method}, {group.data_label}{setting}, n={group.n}: "
                     + "; ".join(parts) + ".")
    return lines


def render_sources(methods: Sequence[str], paper: PaperResults,
                   paper_columns: Sequence[PaperColumn]) -> list[str]:
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


def render_report(rows: Sequence[Row] | Sequence[Group], paper: PaperResults, origin: str = "workspace",
                  figure: str | None = "report.png", tables: Sequence[Table] = TABLES) -> str:
    groups = groups_of(rows)
    split = paper.split_label(PAPER_SPLIT)
    embedded = any(g.embedded for g in groups)
    several = any(g.n > 1 for g in groups)
    out = [
        "# skelssl comparison report",
        "",
        f"Top-1 accuracy (%) on each row's test split; rows from: {origin}. A row is one experiment, or "
        "several that differ only in their seed and ran the same code (n > 1: mean ± sample std over "
        "them; their commits may differ outside the pipeline's code: tests, docs, this report's code). The "
        f"`paper ({split})` columns are the papers' reported numbers, for reference only. Where each row "
        "comes from is listed below the tables.",
    ]
    for table in tables:
        out += ["", f"## {table.title}", "", render_table(groups, paper, table)]
    paper_columns = list(dict.fromkeys(c for t in tables for c in t.paper_columns))
    out += [
        "",
        "Notes:",
        "",
        "- Headline numbers are the **last epoch**. `best` (linear, fine-tune, scratch) is the best epoch "
        "measured on the test split itself: labelled, and optimistic.",
        "- semi, n = 1: mean ± std over the label-subset repeats (last epoch of each)"
        + ("; n > 1: mean ± std over the experiments of each one's repeat mean." if several else "."),
        "- scratch: the fine-tune recipe from a random-init encoder (semi … scratch: on the same label subsets). "
        "random-init: the same protocol with the randomly initialised encoder (what pretraining adds). "
        "robustness AUC: mean top-1 over the joints-dropped curve (random / centrality).",
        f"- {MISSING}: not measured for that row (or no reported number). (n=k): only k of the row's "
        f"experiments have the value. {UNVERIFIED}: methods.md marks the number (or its attribution) unverified.",
        ("- Rows marked *(embedded)* ran on the embedded synthetic dataset: **not comparable** to NTU "
         "numbers or to the paper columns." if embedded else
         "- Paper columns come from different schedules, backbones and preprocessing: compare with care."),
        "",
        "Where each row comes from:",
        "",
        *render_provenance(groups),
        "",
        f"Paper numbers used ({split}):",
        "",
        *render_sources([g.method for g in groups], paper, paper_columns),
    ]
    if figure:
        out += ["", f"![comparison]({figure})"]
    return "\n".join(out) + "\n"
