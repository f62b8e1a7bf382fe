"""What the report reads and shows: the only place that names metrics files, keys and columns.

The evaluation stages' schemas may still change; adapt the report by editing these tables, not
the code that uses them. A column lists candidate keys per part: the first key a row has wins.

Choices of ours (*unverified* against any convention): a metrics file whose top-level keys already
name its protocol ("linear", "finetune", "semi", "semi_scratch") adds no prefix; the others are
prefixed with their folder name; a metrics file not listed here (found in dvc.yaml or in
`dvc exp show`) is prefixed with its folder name too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# metrics file (path from the repository root, as dvc.yaml and `dvc exp show` name it) → prefix of
# its flattened keys ("" = the file's own top-level keys)
METRIC_FILES: dict[str, str] = {
    "results/eval/metrics.json": "",
    "results/finetune/metrics.json": "",
    "results/semi/metrics.json": "",
    "results/robustness/metrics.json": "robustness",
    "results/streams/metrics.json": "streams",
    "results/transfer/metrics.json": "transfer",
}

# row field → dotted key of params.yaml
ROW_PARAMS: dict[str, str] = {
    "method": "method",
    "split": "base.split",
    "source": "ingest.source",
    "input": "ingest.input",
}

# `ingest.input` values that mean "the embedded (synthetic) dataset" (dvc.yaml's synthesize output)
EMBEDDED_INPUTS: tuple[str, ...] = ("data/synthetic",)

DIGITS = 1  # decimals shown for accuracies (the papers report one)

Style = Literal["plain", "mean_std", "last_best", "pair"]


@dataclass(frozen=True)
class Column:
    """A measured column. `parts`: candidate keys per part; `style` says how parts combine:
    plain "a"; mean_std "a ± b"; last_best "a (best b, ep c)"; pair "a / b"."""

    label: str
    parts: tuple[tuple[str, ...], ...]
    style: Style = "plain"
    figure: bool = False  # drawn in the PNG (its first part)


@dataclass(frozen=True)
class PaperColumn:
    """A reported-number column: the first record of the row's method with this protocol (and
    variant, when given) that has PAPER_SPLIT (see paper_results.json)."""

    label: str
    protocol: str
    variant: str | None = None


COLUMNS: tuple[Column, ...] = (
    # headline: the last epoch; "(best b, ep c)": the best epoch (MAMP reports it), when recorded
    Column("linear", (("linear.top1",), ("linear.best_top1",), ("linear.best_epoch",)), "last_best",
           figure=True),
    Column("kNN", (("knn.top1",),), figure=True),
    Column("semi 1%", (("semi.1%.top1_mean",), ("semi.1%.top1_std",)), "mean_std", figure=True),
    Column("semi 1% scratch", (("semi_scratch.1%.top1_mean",), ("semi_scratch.1%.top1_std",)), "mean_std"),
    Column("semi 10%", (("semi.10%.top1_mean",), ("semi.10%.top1_std",)), "mean_std", figure=True),
    Column("semi 10% scratch", (("semi_scratch.10%.top1_mean",), ("semi_scratch.10%.top1_std",)), "mean_std"),
    Column("fine-tune", (("finetune.top1_last",), ("finetune.top1_best",), ("finetune.best_epoch",)),
           "last_best", figure=True),
    Column("scratch", (("scratch.top1_last",), ("scratch.top1_best",), ("scratch.best_epoch",)),
           "last_best", figure=True),
    Column("random-init linear", (("random_init.linear.top1",),)),
    Column("transfer / its scratch", (("transfer.transfer.top1_last",), ("transfer.scratch.top1_last",)),
           "pair"),
    Column("streams ensemble", (("streams.ensemble.top1", "streams.ensemble"),), figure=True),
    Column("streams ensemble random-init", (("streams.random_init.ensemble",),)),
    Column("robustness AUC random / centrality",
           (("robustness.auc.random",), ("robustness.auc.centrality",)), "pair"),
    Column("robustness AUC random-init (random / centrality)",
           (("robustness.random_init.auc.random",), ("robustness.random_init.auc.centrality",)), "pair"),
)

PAPER_SPLIT = "ntu60_xsub"

PAPER_COLUMNS: tuple[PaperColumn, ...] = (
    PaperColumn("linear", "linear"),
    PaperColumn("fine-tune", "finetune"),
    PaperColumn("semi 1%", "semi_1pct"),
    PaperColumn("semi 10%", "semi_10pct"),
    PaperColumn("3-stream linear", "linear", variant="3s"),
)
