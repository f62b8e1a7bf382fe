"""The real-data benchmark (issue 13 item 3): every method x seeds x real datasets through `dvc exp run`.

Each cell is one queued DVC experiment named `real-<dataset>-<method>-s<seed>` that runs the
project's own pipeline (ingest → preprocess → pretrain → evaluate, finetune) with the committed
defaults on the dataset's official split: pretraining and the probes fit on the training side,
every figure is scored on the **test** side. Nothing here was used to choose settings (that was
`tune.py`, on validation splits carved from the training side).

Per experiment it reads: linear and kNN top-1 of the pretrained encoder (`results/eval`), of its
random-init twin (same spec, same probe recipe and seed), and the supervised-from-scratch top-1 of
the same backbone (`results/finetune`, `scratch`), plus the fine-tuned top-1.

Usage (run by hand, one experiment at a time on 2 cores):
  python benchmarks/real/bench.py queue [--methods ...] [--datasets msr utd penn] [--seeds 0 1 2]
  dvc queue start -j 1          # then wait: `dvc queue status`
  python benchmarks/real/bench.py collect   # docs/report-real: tables in README.md, results.png, results.tsv

`queue` skips cells that already have a successful or queued experiment, unless `--rerun` (then
`collect` keeps the newest experiment of each cell). `collect` starts from the committed
results.tsv and replaces the rows it has a finished experiment for, so re-running some cells in a
clone (which has none of the earlier experiments) keeps the other cells' committed rows, each with
the experiment and baseline commit it came from. The one setting that differs from params.yaml
is `evaluate.finetune.epochs.<the method's backbone>` (`--finetune-epochs`, default transformer=15
stgcn=150 gin=50): the 3-epoch CPU default is a smoke test, too short for a from-scratch baseline to
mean anything, and the graph backbones need more optimiser steps than the transformers (measured on
MSR Action3D's validation split: docs/real-data-tuning.md, "Third session"). Experiments from
before per-backbone recipes (commits up to daad4aa) set `evaluate.finetune.epochs=15` for every
method, with the transformer recipe for all three backbones.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL = (ROOT.parent / "shared" / "data" / "real").resolve()
OUT = ROOT / "docs" / "report-real"
METHODS = ("skeleton2vec", "skeletonmae_st", "skeletonmae_graph", "pstl", "mamp")
DATASETS = {
    "msr": dict(title="MSR Action3D (xsub)", source="msr_action3d", split="xsub",
                input=REAL / "msr_action3d" / "MSRAction3DSkeletonReal3D"),
    "utd": dict(title="UTD-MHAD (xsub)", source="utd_mhad", split="xsub", input=REAL / "utd_mhad" / "skeleton"),
    "penn": dict(title="Penn Action (official, 2D)", source="penn_action", split="official",
                 input=REAL / "penn_action" / "labels"),
}
# (column title, metric key) in results/eval and results/finetune, as `skelssl.report.collect` flattens them
MEASURES = (
    ("linear pretrained", "linear.top1"),
    ("linear random init", "random_init.linear.top1"),
    ("kNN pretrained", "knn.top1"),
    ("kNN random init", "random_init.knn.top1"),
    ("fine-tuned", "finetune.top1_last"),
    ("supervised from scratch", "scratch.top1_last"),
)


def exp_name(dataset: str, method: str, seed: int) -> str:
    return f"real-{dataset}-{method}-s{seed}"


def existing_names() -> set[str]:
    """Names of experiments that are queued, running or done (failed ones may be queued again)."""
    sys.path.insert(0, str(ROOT / "src"))
    from skelssl.report.collect import dvc_exp_show

    names = set()
    for baseline in dvc_exp_show(ROOT, all_commits=True):
        for exp in baseline.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state")
            if state != "failed" and exp.get("name"):
                names.add(exp["name"])
    return names


def backbones() -> dict[str, str]:
    """Each method's backbone name, from params.yaml."""
    sys.path.insert(0, str(ROOT / "src"))
    from skelssl.config import load_params

    blocks = load_params(ROOT / "params.yaml").methods
    return {method: getattr(blocks, method).backbone.name for method in METHODS}


def queue(args: argparse.Namespace) -> None:
    have = set() if args.rerun else existing_names()
    epochs = dict(item.split("=", 1) for item in args.finetune_epochs)
    backbone = backbones()
    for seed in args.seeds:
        for dataset in args.datasets:
            d = DATASETS[dataset]
            if not d["input"].is_dir():
                sys.exit(f"{d['input']}: not found (the real data lives in ../shared/data/real)")
            for method in args.methods:
                name = exp_name(dataset, method, seed)
                if name in have:
                    print(f"{name}: already there, skipped")
                    continue
                sets = {"method": method, "base.seed": seed, "base.split": d["split"],
                        "ingest.source": d["source"], "ingest.input": d["input"], "ingest.on_error": "skip",
                        f"evaluate.finetune.epochs.{backbone[method]}": int(epochs[backbone[method]])}
                cmd = [sys.executable, "-m", "dvc", "exp", "run", "--queue", "-n", name,
                       *[a for k, v in sets.items() for a in ("-S", f"{k}={v}")], "evaluate", "finetune"]
                subprocess.run(cmd, cwd=ROOT, check=True)


def mean_std(values: list[float], signed: bool = False) -> str:
    """`mean ± sample std`, or the one value; `–` for none."""
    if not values:
        return "–"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    mean = fmt.format(statistics.mean(values))
    return mean if len(values) == 1 else f"{mean} ± {statistics.stdev(values):.1f}"


Run = tuple  # (dataset, method, seed, experiment commit, baseline commit, {metric key: value or None})


def committed_runs() -> dict[tuple[str, str, int], Run]:
    """The rows of the committed results.tsv, by cell and seed: a clone has none of the experiments
    (they live in the machine that ran them unless pushed with `dvc exp push`), so `collect` keeps
    these rows for every cell and seed it has no experiment of."""
    path = OUT / "results.tsv"
    if not path.is_file():
        return {}
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    runs = {}
    for n, line in enumerate(lines[1:], start=2):
        try:
            row = dict(zip(head, line.split("\t"), strict=True))
            vals = {key: float(row[key]) if row[key] else None for _, key in MEASURES}
            seed = int(row["seed"])
        except (KeyError, ValueError) as e:
            sys.exit(f"{path}:{n}: unreadable row ({e})")
        if row["dataset"] not in DATASETS or row["method"] not in METHODS:
            continue
        runs[row["dataset"], row["method"], seed] = (row["dataset"], row["method"], seed, row["exp_rev"],
                                                    row["baseline"], vals)
    return runs


def experiment_runs() -> dict[tuple[str, str, int], Run]:
    """This repository's finished `real-*` experiments, the newest of each cell and seed (a cell run
    again with --rerun; a failed experiment has no results and is skipped)."""
    sys.path.insert(0, str(ROOT / "src"))
    from skelssl.report.collect import dvc_exp_show, parse_exp_show

    runs = {}
    for r in sorted(parse_exp_show(dvc_exp_show(ROOT, all_commits=True)),
                    key=lambda r: r.timestamp.timestamp() if r.timestamp else 0.0):
        if not (r.name.startswith("real-") and isinstance(r.metrics.get("linear.top1"), (int, float))):
            continue
        _, dataset, rest = r.name.split("-", 2)
        method, seed = rest.rsplit("-s", 1)
        if dataset in DATASETS and method in METHODS:
            # rounded as results.tsv stores them: the tables come out the same from either source
            vals = {key: round(v, 2) if isinstance(v := r.metrics.get(key), (int, float)) else None
                    for _, key in MEASURES}
            runs[dataset, method, int(seed)] = (dataset, method, int(seed), (r.rev or "")[:7],
                                                (r.baseline or "")[:7], vals)
    return runs


def collect(args: argparse.Namespace) -> None:
    committed = committed_runs()  # first: a malformed file stops collect before dvc exp show
    found = experiment_runs()
    runs = list((committed | found).values())
    print(f"{len(found)} experiments here, {len(runs) - len(found)} rows kept from the committed results.tsv")
    cells: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for dataset, method, _, _, _, vals in runs:
        for key, v in vals.items():
            if v is not None:
                cells[dataset, method][key].append(float(v))
        pre, rnd = vals["linear.top1"], vals["random_init.linear.top1"]
        if pre is not None and rnd is not None:
            cells[dataset, method]["gap"].append(float(pre) - float(rnd))
    runs.sort(key=lambda t: (list(DATASETS).index(t[0]), METHODS.index(t[1]), t[2]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.tsv").write_text(
        "\t".join(["dataset", "method", "seed", "exp_rev", "baseline", *(k for _, k in MEASURES)]) + "\n"
        + "".join("\t".join([d, m, str(s), rev, base,
                             *("" if v.get(k) is None else f"{v[k]:.2f}" for _, k in MEASURES)]) + "\n"
                  for d, m, s, rev, base, v in runs))
    lines = []
    for dataset, d in DATASETS.items():
        present = [m for m in METHODS if (dataset, m) in cells]
        if not present:
            continue
        lines += [f"### {d['title']}", "",
                  "| method | seeds | " + " | ".join(t for t, _ in MEASURES) + " | linear gap |",
                  "|---|---|" + "---|" * (len(MEASURES) + 1)]
        for m in present:
            c = cells[dataset, m]
            lines.append(f"| {m} | {len(c['linear.top1'])} | " + " | ".join(mean_std(c[k]) for _, k in MEASURES)
                         + f" | {mean_std(c['gap'], signed=True)} |")
        lines.append("")
    bases = sorted({(base or "?")[:7] for *_, base, _ in runs})
    lines += [f"{len(runs)} experiments, run from commit{'s' if len(bases) > 1 else ''} {', '.join(bases)}; "
              "every figure is test top-1 (%), mean ± sample std over the seeds run. "
              "Per-experiment values: [results.tsv](results.tsv).", "",
              "![real-data benchmark](results.png)"]
    write_between_markers(OUT / "README.md", "\n".join(lines))
    write_between_markers(ROOT / "README.md", summary(cells), SUMMARY_MARKERS)
    (OUT / "results.png").write_bytes(figure(cells))
    print("\n".join(lines))
    print(f"wrote {OUT / 'README.md'}, {OUT / 'results.tsv'}, {OUT / 'results.png'} ({len(runs)} experiments)")


REPORT_MARKERS = ("<!-- bench.py collect: start -->", "<!-- bench.py collect: end -->")
SUMMARY_MARKERS = ("<!-- bench.py summary: start -->", "<!-- bench.py summary: end -->")  # in README.md


def summary(cells) -> str:
    """The README's table: per method and dataset `pretrained vs random init (gap ± std)`, bold where
    the mean gap over 3 or more seeds is at least 10 points (issue 13's bar), then scratch."""
    head = [DATASETS[d]["title"].split(" (")[0] for d in DATASETS]
    lines = ["| method | " + " | ".join(head) + " | scratch " + " / ".join(DATASETS) + " |",
             "|---|" + "---|" * (len(DATASETS) + 1)]
    for m in METHODS:
        row, scratch = [], []
        for d in DATASETS:
            c = cells.get((d, m))
            if not c or not c["linear.top1"]:
                row.append("–")
                scratch.append("–")
                continue
            seeds = len(c["gap"])
            text = (f"{statistics.mean(c['linear.top1']):.1f} vs {statistics.mean(c['random_init.linear.top1']):.1f}"
                    f" ({mean_std(c['gap'], signed=True)}{'' if seeds >= 3 else f', {seeds} seed' + 's' * (seeds > 1)})")
            row.append(f"**{text}**" if seeds >= 3 and statistics.mean(c["gap"]) >= 10 else text)
            scratch.append(f"{statistics.mean(c['scratch.top1_last']):.1f}" if c["scratch.top1_last"] else "–")
        lines.append(f"| {m} | " + " | ".join(row) + " | " + " / ".join(scratch) + " |")
    return "\n".join(lines)


def write_between_markers(path: Path, generated: str, markers: tuple[str, str] = REPORT_MARKERS) -> None:
    """Replace the text between the two markers of `path` (created with just the markers if absent);
    the hand-written text around them stays."""
    start, end = markers
    text = path.read_text() if path.exists() else f"# Real-data benchmark\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        sys.exit(f"{path}: the markers {start} / {end} are missing; add them where the tables go")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{start}\n{generated}\n{end}{tail}")


def figure(cells) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bars = (("linear pretrained", "linear.top1", None), ("linear random init", "random_init.linear.top1", "//"),
            ("supervised from scratch", "scratch.top1_last", ".."))
    datasets = [d for d in DATASETS if any((d, m) in cells for m in METHODS)]
    fig = Figure(figsize=(4.2 * max(1, len(datasets)), 3.6), dpi=110)
    FigureCanvasAgg(fig)
    for i, dataset in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), i + 1)
        methods = [m for m in METHODS if (dataset, m) in cells]
        width = 0.8 / len(bars)
        for j, (label, key, hatch) in enumerate(bars):
            xs, ys, es = [], [], []
            for k, m in enumerate(methods):
                v = cells[dataset, m][key]
                if v:
                    xs.append(k + (j - 1) * width)
                    ys.append(statistics.mean(v))
                    es.append(statistics.stdev(v) if len(v) > 1 else float("nan"))  # no bar for one seed
            ax.bar(xs, ys, width, yerr=es, label=label, hatch=hatch, color=f"C{j}", capsize=2,
                   edgecolor="black", linewidth=0.4)
        ax.set_xticks(range(len(methods)), [m.replace("skeleton", "s").replace("_", "\n") for m in methods],
                      fontsize=7)
        ax.set_title(DATASETS[dataset]["title"], fontsize=9)
        ax.set_ylim(0, 100)
        ax.set_ylabel("test top-1 (%)" if i == 0 else "")
        ax.grid(axis="y", alpha=0.3)
    fig.axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queue", help="queue the missing experiments")
    q.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    q.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    q.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    q.add_argument("--finetune-epochs", nargs="+", default=["transformer=15", "stgcn=150", "gin=50"],
                   metavar="BACKBONE=EPOCHS")
    q.add_argument("--rerun", action="store_true", help="queue cells that already have an experiment")
    sub.add_parser("collect", help="write docs/report-real from the finished experiments")
    args = ap.parse_args()
    queue(args) if args.cmd == "queue" else collect(args)


if __name__ == "__main__":
    main()
