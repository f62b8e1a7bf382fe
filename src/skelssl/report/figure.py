"""The report's PNG: a grouped bar chart, one group per main protocol (`spec.COLUMNS` with
`figure=True`, first part = the headline value), two bars per report row (`group.Group`): the
pretrained encoder (solid) and the same protocol's random-init or from-scratch baseline
(`Column.baseline`, hatched), each the mean over the row's experiments with a sample-std error bar
when there are several. A missing value leaves a gap; a protocol that no row has is left out.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend state). Choice of
ours: the papers' numbers are not drawn (different data; they are in the Markdown tables).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skelssl.report.collect import Row
from skelssl.report.group import Group, mean_std
from skelssl.report.spec import COLUMNS, Column
from skelssl.report.table import groups_of, row_label

DPI = 110
Bar = tuple[float, float | None] | None  # (mean, std or None), or no value


def figure_columns(columns: Sequence[Column] = COLUMNS) -> list[Column]:
    return [c for c in columns if c.figure]


def _bar(group: Group, candidates: Sequence[str]) -> Bar:
    values = group.values(candidates) if candidates else []
    return mean_std(values) if values else None


def bar_values(groups: Sequence[Group], columns: Sequence[Column]) -> list[list[tuple[Bar, Bar]]]:
    """values[group][column] = (pretrained bar, baseline bar)."""
    return [[(_bar(g, c.parts[0]), _bar(g, c.baseline)) for c in columns] for g in groups]


def build_figure(rows: Sequence[Row] | Sequence[Group], columns: Sequence[Column] | None = None) -> Figure:
    groups = groups_of(rows)
    columns = figure_columns() if columns is None else list(columns)
    values = bar_values(groups, columns)
    kept = [j for j in range(len(columns)) if any(v[j][0] is not None or v[j][1] is not None for v in values)]
    if kept:  # drop protocols no row measured
        columns, values = [columns[j] for j in kept], [[v[j] for j in kept] for v in values]
    n_bars = 2 * max(1, len(groups))
    fig = Figure(figsize=(min(16.0, 3.5 + len(columns) * (0.6 + 0.22 * n_bars)), 4.8), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.84 / n_bars
    palette = [f"C{i % 10}" for i in range(len(groups))]
    for i, (group, vals) in enumerate(zip(groups, values, strict=True)):
        label = f"{row_label(i)} {group.method}" + (f" (n={group.n})" if group.n > 1 else "") + \
            (" *" if group.embedded else "")
        for which, (hatch, alpha) in enumerate((("", 1.0), ("///", 0.45))):
            bars = [(j, v[which]) for j, v in enumerate(vals) if v[which] is not None]
            if not bars:
                continue
            offset = (2 * i + which - (n_bars - 1) / 2) * width
            xs = [j + offset for j, _ in bars]
            ys = [b[0] for _, b in bars]
            errs = [b[1] or 0.0 for _, b in bars]
            ax.bar(xs, ys, width=width * 0.95, color=palette[i], alpha=alpha, hatch=hatch,
                   edgecolor=palette[i] if hatch else None, label=label if which == 0 else None,
                   yerr=errs if any(errs) else None, capsize=2 if any(errs) else 0)
    ax.bar([0], [0], width=0, color="white", edgecolor="grey", hatch="///",
           label="hatched: random-init encoder / from scratch")
    ax.set_xticks(range(len(columns)), [c.label.replace(" ", "\n", 1) for c in columns])
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_ylabel("top-1 accuracy (%)")
    embedded = any(g.embedded for g in groups)
    several = any(g.n > 1 for g in groups)
    ax.set_title("skelssl: methods × protocols" + (", mean ± std over seeds" if several else "")
                 + ("\n* embedded data, not comparable to NTU" if embedded else ""), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def render_png(rows: Sequence[Row] | Sequence[Group], columns: Sequence[Column] | None = None) -> bytes:
    fig = build_figure(rows, columns)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
