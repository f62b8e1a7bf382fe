"""What the report reads and shows: the only place that names metrics files, keys and columns.

The evaluation stages' schemas may still change; adapt the report by editing these tables, not
the code that uses them. A column lists candidate keys per part: the first key a row has wins.

Choices of ours (*unverified* against any convention): a metrics file whose top-level keys already
name its protocol ("linear", "finetune", "semi", "semi_scratch") adds no prefix; the others are
prefixed with their folder name; a metrics file not listed here (found in dvc.yaml or in
`dvc exp show`, e.g. the training stages' live logs `results/<stage>/live/metrics.json`) is
prefixed with its folders below `results/` ("finetune.live"), or else with its folder name.
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

# params whose values a report row averages over (mean ± std): the seeds. Every other param that
# differs between experiments splits them into separate rows (`group.group_rows`).
SEED_PARAMS: tuple[str, ...] = ("base.seed",)

# `ingest.input` values that mean "the embedded (synthetic) dataset" (dvc.yaml's synthesize output)
EMBEDDED_INPUTS: tuple[str, ...] = ("data/synthetic",)

DIGITS = 1  # decimals shown for accuracies (the papers report one)

Style = Literal["plain", "mean_std", "last_best", "pair"]


@dataclass(frozen=True)
class Column:
    """A measured column. `parts`: candidate keys per part; `style` says how parts combine:
    plain "a"; mean_std "a ± b"; last_best "a (best b, ep c)"; pair "a / b". `baseline`: candidate
    keys of the same protocol with the random-init encoder (or from scratch), drawn next to it in
    the PNG when `figure` is set."""

    label: str
    parts: tuple[tuple[str, ...], ...]
    style: Style = "plain"
    figure: bool = False  # drawn in the PNG (its first part)
    baseline: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaperColumn:
    """A reported-number column: the first record of the row's method with this protocol (and
    variant, when given) that has PAPER_SPLIT (see paper_results.json)."""

    label: str
    protocol: str
    variant: str | None = None


@dataclass(frozen=True)
class Table:
    """One Markdown table of the report: a protocol family, its measured and its paper columns."""

    title: str
    columns: tuple[Column, ...]
    paper_columns: tuple[PaperColumn, ...] = ()


LINEAR = Column("linear", (("linear.top1",), ("linear.best_top1",), ("linear.best_epoch",)), "last_best",
                figure=True, baseline=("random_init.linear.top1",))
KNN = Column("kNN", (("knn.top1",),), figure=True, baseline=("random_init.knn.top1",))
RANDOM_LINEAR = Column("random-init linear", (("random_init.linear.top1",),))
RANDOM_KNN = Column("random-init kNN", (("random_init.knn.top1",),))
FINETUNE = Column("fine-tune", (("finetune.top1_last",), ("finetune.top1_best",), ("finetune.best_epoch",)),
                  "last_best", figure=True, baseline=("scratch.top1_last",))
SCRATCH = Column("scratch", (("scratch.top1_last",), ("scratch.top1_best",), ("scratch.best_epoch",)),
                 "last_best")
SEMI_1 = Column("semi 1%", (("semi.1%.top1_mean",), ("semi.1%.top1_std",)), "mean_std", figure=True,
                baseline=("semi_scratch.1%.top1_mean",))
SEMI_1_SCRATCH = Column("semi 1% scratch", (("semi_scratch.1%.top1_mean",), ("semi_scratch.1%.top1_std",)),
                        "mean_std")
SEMI_10 = Column("semi 10%", (("semi.10%.top1_mean",), ("semi.10%.top1_std",)), "mean_std", figure=True,
                 baseline=("semi_scratch.10%.top1_mean",))
SEMI_10_SCRATCH = Column("semi 10% scratch", (("semi_scratch.10%.top1_mean",), ("semi_scratch.10%.top1_std",)),
                         "mean_std")
STREAMS = Column("streams ensemble", (("streams.ensemble.top1", "streams.ensemble"),), figure=True,
                 baseline=("streams.random_init.ensemble",))
STREAMS_RANDOM = Column("streams ensemble random-init", (("streams.random_init.ensemble",),))
ROBUSTNESS = Column("robustness AUC random / centrality",
                    (("robustness.auc.random",), ("robustness.auc.centrality",)), "pair")
ROBUSTNESS_RANDOM = Column("robustness AUC random-init (random / centrality)",
                           (("robustness.random_init.auc.random",), ("robustness.random_init.auc.centrality",)),
                           "pair")
TRANSFER = Column("transfer / its scratch", (("transfer.transfer.top1_last",), ("transfer.scratch.top1_last",)),
                  "pair")

PAPER_SPLIT = "ntu60_xsub"

PAPER_LINEAR = PaperColumn("linear", "linear")
PAPER_FINETUNE = PaperColumn("fine-tune", "finetune")
PAPER_SEMI_1 = PaperColumn("semi 1%", "semi_1pct")
PAPER_SEMI_10 = PaperColumn("semi 10%", "semi_10pct")
PAPER_3S = PaperColumn("3-stream linear", "linear", variant="3s")

# the report's tables, one protocol family each (headline: the last epoch; "(best b, ep c)": the
# best epoch, which MAMP reports, when recorded)
TABLES: tuple[Table, ...] = (
    Table("Linear probe and kNN (frozen encoder)", (LINEAR, KNN, RANDOM_LINEAR, RANDOM_KNN), (PAPER_LINEAR,)),
    Table("Fine-tuning (all labels)", (FINETUNE, SCRATCH), (PAPER_FINETUNE,)),
    Table("Semi-supervised fine-tuning", (SEMI_1, SEMI_1_SCRATCH, SEMI_10, SEMI_10_SCRATCH),
          (PAPER_SEMI_1, PAPER_SEMI_10)),
    Table("Streams, robustness and transfer", (STREAMS, STREAMS_RANDOM, ROBUSTNESS, ROBUSTNESS_RANDOM, TRANSFER),
          (PAPER_3S,)),
)

COLUMNS: tuple[Column, ...] = tuple(c for t in TABLES for c in t.columns)
PAPER_COLUMNS: tuple[PaperColumn, ...] = tuple(dict.fromkeys(c for t in TABLES for c in t.paper_columns))
