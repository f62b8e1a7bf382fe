"""The report's PNG: a grouped bar chart, one group per main protocol (`spec.COLUMNS` with
`figure=True`, first part = the headline value), one bar per experiment. A missing value leaves a
gap; a protocol that no row has is left out.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend state). Choice of
ours: the papers' numbers are not drawn (different data; they are in the Markdown table).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skelssl.report.collect import Row
from skelssl.report.spec import COLUMNS, Column
from skelssl.report.table import part

DPI = 110


def figure_columns(columns: Sequence[Column] = COLUMNS) -> list[Column]:
    return [c for c in columns if c.figure]


def bar_values(rows: Sequence[Row], columns: Sequence[Column]) -> list[list[float | None]]:
    """values[row][column]: the headline (first part) or None."""
    out: list[list[float | None]] = []
    for row in rows:
        values = [part(row, column.parts[0]) for column in columns]
        out.append([None if v is None else float(v) for v in values])
    return out


def render_png(rows: Sequence[Row], columns: Sequence[Column] | None = None) -> bytes:
    columns = figure_columns() if columns is None else list(columns)
    values = bar_values(rows, columns)
    kept = [j for j in range(len(columns)) if any(v[j] is not None for v in values)]
    if kept:  # drop protocols no row measured
        columns, values = [columns[j] for j in kept], [[v[j] for j in kept] for v in values]
    fig = Figure(figsize=(min(14.0, 3.0 + len(columns) * (0.6 + 0.18 * len(rows))), 4.5), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(rows))
    for i, (row, vals) in enumerate(zip(rows, values, strict=True)):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j, v in enumerate(vals) if v is not None]
        ys = [v for v in vals if v is not None]
        label = f"{row.name} ({row.method})" + (" *" if row.embedded else "")
        ax.bar(xs, ys, width=width * 0.95, label=label)
    ax.set_xticks(range(len(columns)), [c.label for c in columns])
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_ylabel("top-1 accuracy (%)")
    embedded = any(row.embedded for row in rows)
    ax.set_title("skelssl: methods × protocols" + (" (* embedded data, not comparable to NTU)" if embedded else ""),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
