"""Wall time of every stage of the default pipeline (run by hand; results go to docs/benchmarks.md).

Usage: python benchmarks/pipeline.py   (from the repository root, after `dvc repro` has run once)
Each stage is forced to run on its own (`dvc repro --force --single-item STAGE`), in DAG order,
so every timing includes the process start, imports and DVC's own hashing/caching of outputs.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    stages = list(YAML(typ="safe", pure=True).load((ROOT / "dvc.yaml").read_text())["stages"])
    dvc = str(Path(sys.executable).with_name("dvc"))
    rows = []
    for stage in stages:
        start = time.perf_counter()
        subprocess.run([dvc, "repro", "--force", "--single-item", stage], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows.append((stage, time.perf_counter() - start))
    total = sum(seconds for _, seconds in rows)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print("| stage | wall time (s) |\n|---|---|")
    for stage, seconds in rows:
        print(f"| {stage} | {seconds:.1f} |")
    print(f"| **total** | **{total:.1f}** |")
    start = time.perf_counter()
    subprocess.run([dvc, "repro"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"\nno-op `dvc repro` afterwards: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
