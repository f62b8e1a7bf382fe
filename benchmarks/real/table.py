"""Render benchmarks/real/runs.tsv (written by tune.py) as the Markdown table of docs/real-data-tuning.md."""

from pathlib import Path

HEAD = ("dataset", "method", "setting", "seed", "pretrain s", "final loss", "lin pre", "lin rnd",
        "kNN pre", "kNN rnd", "lin gap", "probe", "clips")


def main() -> None:
    rows = [line.split("\t") for line in (Path(__file__).parent / "runs.tsv").read_text().splitlines() if line]
    print("| # | " + " | ".join(HEAD) + " |")
    print("|" + "---|" * (len(HEAD) + 1))
    for i, r in enumerate(rows, 1):
        print(f"| {i} | " + " | ".join(c.replace(";", "; ").replace("methods.", "") for c in r) + " |")


if __name__ == "__main__":
    main()
