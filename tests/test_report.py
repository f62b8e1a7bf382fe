"""`skelssl report`: flattening, table cells, `dvc exp show --json` parsing, paper numbers, PNG, CLI.

tests/data/exp_show.json is real `dvc exp show --json` output (DVC 3.67.1) recorded on a throwaway
repository: baseline `main` (method mamp), experiments mamp-seed1 and pstl-a (plain `dvc exp run`),
s2v-queued and pending (queued, then run: executor state "success"), broken (failed) and
still-queued (queued, never run).
"""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from skelssl.errors import SkelsslError
from skelssl.report import collect as collect_mod
from skelssl.report.build import write_report
from skelssl.report.collect import (Row, collect, dvc_exp_show, flatten, latest_per_method, merge_metrics,
                                    metrics_prefix, parse_exp_show, workspace_row)
from skelssl.report.group import group_rows
from skelssl.report.paper import PaperResults, load_raw, validate
from skelssl.report.spec import COLUMNS, TABLES
from skelssl.report.table import cell, render_report, render_table
from tests.helpers import METHOD_NAMES, ROOT

SAMPLE = Path(__file__).parent / "data" / "exp_show.json"
EVAL = {"linear": {"top1": 85.42, "top5": 99.54}, "knn": {"top1": 54.4},
        "random_init": {"linear": {"top1": 53.24}, "knn": {"top1": 47.92}}}


def _sample() -> list:
    return json.loads(SAMPLE.read_text())


def _row(method: str = "mamp", **metrics: float) -> Row:
    return Row("run-1", method, "xsub", "ntu", "data/synthetic", dict(metrics))


def _columns() -> dict[str, object]:
    return {c.label: c for c in COLUMNS}


# ---------------------------------------------------------------------------- flattening


def test_flatten_keeps_numeric_leaves_only():
    tree = {"semi": {"1%": {"top1_mean": 40.25, "top1_std": 1.5, "runs": [40.0, 41.0]}},
            "best_epoch": 7, "ok": True, "name": "x", "auc": {"random": 70}}
    assert flatten(tree) == {"semi.1%.top1_mean": 40.25, "semi.1%.top1_std": 1.5, "best_epoch": 7,
                             "auc.random": 70}
    assert flatten({"a": 1}, "streams") == {"streams.a": 1}


def test_metrics_prefix_and_merge():
    assert metrics_prefix("results/eval/metrics.json") == ""
    assert metrics_prefix("results/robustness/metrics.json") == "robustness"
    assert metrics_prefix("results/other/metrics.json") == "other"
    assert metrics_prefix("results/finetune/live/metrics.json") == "finetune.live"  # dvclive's log
    assert metrics_prefix("elsewhere/x/metrics.json") == "x"
    merged = merge_metrics({
        "results/eval/metrics.json": EVAL,
        "results/streams/metrics.json": {"joint": 80.0, "ensemble": 88.12},
        "results/robustness/metrics.json": {"random": {"k=0": 85.0}, "auc": {"random": 70.0}},
        "results/x/metrics.json": {"linear": 1.0},  # → "x.linear", no clash
    })
    assert merged["linear.top1"] == 85.42 and merged["random_init.knn.top1"] == 47.92
    assert merged["streams.ensemble"] == 88.12 and merged["robustness.auc.random"] == 70.0
    assert merged["robustness.random.k=0"] == 85.0 and merged["x.linear"] == 1.0
    assert len(merged) == 10
    # a key read twice keeps the first file's value
    assert merge_metrics({"a/eval/metrics.json": {"v": 1}, "b/eval/metrics.json": {"v": 2}}) == {"eval.v": 1}


# ---------------------------------------------------------------------------- table


def test_cells_exact_formats():
    cols = _columns()
    row = _row(**{"linear.top1": 85.42, "semi.1%.top1_mean": 40.25, "semi.1%.top1_std": 1.52,
                  "semi.10%.top1_mean": 76.5, "finetune.top1_last": 86.54, "finetune.top1_best": 87.5,
                  "finetune.best_epoch": 7, "scratch.top1_last": 60.0, "streams.ensemble": 88.12,
                  "robustness.auc.random": 70.0})
    assert cell(row, cols["linear"]) == "85.4"
    assert cell(row, cols["kNN"]) == "–"
    assert cell(row, cols["semi 1%"]) == "40.2 ± 1.5"
    assert cell(row, cols["semi 10%"]) == "76.5"  # no std → the mean alone
    assert cell(row, cols["fine-tune"]) == "86.5 (best 87.5, ep 7)"
    assert cell(row, cols["scratch"]) == "60.0"
    assert cell(row, cols["streams ensemble"]) == "88.1"  # scalar streams schema
    assert cell(_row(**{"streams.ensemble.top1": 70.04}), cols["streams ensemble"]) == "70.0"
    assert cell(row, cols["robustness AUC random / centrality"]) == "70.0 / –"
    assert cell(_row(), cols["robustness AUC random / centrality"]) == "–"


def test_baseline_cells_from_the_stages_metrics_files():
    cols = _columns()
    merged = merge_metrics({
        "results/semi/metrics.json": {"semi": {"1%": {"top1_mean": 40.25, "top1_std": 1.52}},
                                      "semi_scratch": {"1%": {"top1_mean": 20.04, "top1_std": 0.75,
                                                              "runs": [20.0, 21.0]},
                                                       "10%": {"top1_mean": 35.0, "top1_std": 0.0}}},
        "results/streams/metrics.json": {"joint": 80.0, "ensemble": 88.12,
                                         "random_init": {"joint": 30.0, "ensemble": 33.36}},
        "results/robustness/metrics.json": {"auc": {"random": 70.0, "centrality": 65.0},
                                            "random_init": {"random": {"k=0": 30.0},
                                                            "auc": {"random": 25.04, "centrality": 21.0}}},
    })
    row = _row(**merged)
    assert cell(row, cols["semi 1%"]) == "40.2 ± 1.5"
    assert cell(row, cols["semi 1% scratch"]) == "20.0 ± 0.8"
    assert cell(row, cols["semi 10% scratch"]) == "35.0 ± 0.0"
    assert cell(row, cols["streams ensemble"]) == "88.1"
    assert cell(row, cols["streams ensemble random-init"]) == "33.4"
    assert cell(row, cols["robustness AUC random / centrality"]) == "70.0 / 65.0"
    assert cell(row, cols["robustness AUC random-init (random / centrality)"]) == "25.0 / 21.0"
    assert merged["robustness.random_init.random.k=0"] == 30.0 and merged["streams.random_init.joint"] == 30.0
    baselines = [c for c in COLUMNS
                 if (c.label.startswith("semi") and "scratch" in c.label) or "random-init" in c.label]
    assert len(baselines) == 6 and not any(c.figure for c in baselines)  # own bars: no, hatched ones: yes
    # every protocol in the PNG has its baseline (hatched bar), read from a baseline column's keys
    drawn = {c.label: c.baseline for c in COLUMNS if c.figure}
    assert drawn == {"linear": ("random_init.linear.top1",), "kNN": ("random_init.knn.top1",),
                     "fine-tune": ("scratch.top1_last",), "semi 1%": ("semi_scratch.1%.top1_mean",),
                     "semi 10%": ("semi_scratch.10%.top1_mean",),
                     "streams ensemble": ("streams.random_init.ensemble",)}
    assert set(drawn.values()) <= {c.parts[0] for c in COLUMNS}


def test_tables_split_by_protocol_family_and_paper_columns():
    paper = PaperResults.load()
    rows = [_row("mamp", **{"linear.top1": 85.42, "knn.top1": 54.4, "random_init.knn.top1": 30.0}),
            _row("pstl", **{"finetune.top1_last": 70.0, "finetune.top1_best": 71.0})]
    groups = group_rows(rows)
    assert [t.title for t in TABLES] == ["Linear probe and kNN (frozen encoder)", "Fine-tuning (all labels)",
                                         "Semi-supervised fine-tuning", "Streams, robustness and transfer"]
    assert {c.label for t in TABLES for c in t.columns} == {c.label for c in COLUMNS} and len(COLUMNS) == 15
    for table in TABLES:  # every measured column in exactly one table, none wider than 10 columns
        lines = render_table(groups, paper, table).splitlines()
        assert len(lines) == 4 and len(lines[0].strip("|").split("|")) <= 10
    linear, finetune = (render_table(groups, paper, t).splitlines() for t in TABLES[:2])
    header = [c.strip() for c in linear[0].strip("|").split("|")]
    assert header == ["row", "method", "data", "n", "linear", "kNN", "random-init linear", "random-init kNN",
                      "paper (NTU-60 xsub): linear"]
    assert linear[2] == "| R1 | mamp | ntu xsub (embedded) | 1 | 85.4 | 54.4 | – | 30.0 | 84.9† |"
    assert linear[3] == "| R2 | pstl | ntu xsub (embedded) | 1 | – | – | – | – | 77.3 |"
    assert finetune[3] == "| R2 | pstl | ntu xsub (embedded) | 1 | 70.0 (best 71.0) | – | 87.1 (3s) |"
    semi = render_table(groups, paper, TABLES[2]).splitlines()
    assert semi[2].endswith("| 66.0 | 88.0 |")
    streams = render_table(groups, paper, TABLES[3]).splitlines()
    assert streams[3].endswith("| 79.1 (3s) |")
    report = render_report(rows, paper)
    assert report.count("\n## ") == 4 and report.count("\n| R1 |") == 4
    assert "last epoch" in report and "not comparable" in report and "![comparison](report.png)" in report
    assert "[DiMoP] Tab I, [GFP-note], [Awesome]" in report
    real = Row("r", "skeleton2vec", "xsub", "ntu", "data/raw", {"linear.top1": 80.0})
    assert "(embedded)" not in render_table(group_rows([real]), paper, TABLES[0])
    assert "not comparable" not in render_report([real], paper)


def _exp(name: str, method: str, seed: int, commit: str = "c" * 40, **metrics: float) -> Row:
    params = {"method": method, "base.seed": seed, "base.split": "xsub", "evaluate.linear.epochs": 60,
              **{f"methods.{m}.optim.epochs": 100 for m in ("mamp", "pstl")}}
    return Row(name, method, "xsub", "ntu", "data/synthetic", dict(metrics), "exp",
               datetime(2026, 12, 1, 10, seed), params, rev=f"{seed:x}" * 40, baseline=commit)


def test_seeds_group_into_one_row_other_params_and_commits_split():
    a1 = _exp("a1", "mamp", 1, **{"linear.top1": 80.0, "linear.best_top1": 82.0, "knn.top1": 50.0})
    a2 = _exp("a2", "mamp", 2, **{"linear.top1": 82.0, "linear.best_top1": 84.0})
    a3 = _exp("a3", "mamp", 3, **{"linear.top1": 84.0, "linear.best_top1": 86.0, "knn.top1": 54.0})
    tweaked = replace(_exp("t", "pstl", 1, **{"linear.top1": 50.0}))
    tweaked.params["methods.pstl.optim.epochs"] = 5  # pstl's own block differs: its own row
    plain = _exp("p", "pstl", 1, **{"linear.top1": 60.0})
    mamp_block = _exp("q", "pstl", 2, **{"linear.top1": 62.0})
    mamp_block.params["methods.mamp.optim.epochs"] = 7  # another method's block: ignored for pstl
    other_commit = _exp("o", "mamp", 4, "d" * 40, **{"linear.top1": 10.0})
    groups = group_rows([a1, a2, a3, tweaked, plain, mamp_block, other_commit])
    assert [[r.name for r in g.rows] for g in groups] == [["a1", "a2", "a3"], ["t"], ["p", "q"], ["o"]]
    assert [g.setting_label for g in groups] == ["", "optim.epochs=5", "optim.epochs=100", ""]
    assert groups[0].seeds == [1, 2, 3] and groups[0].n == 3
    cols = _columns()
    assert cell(groups[0], cols["linear"]) == "82.0 ± 2.0 (best 84.0)"  # sample std of 80, 82, 84
    assert cell(groups[0], cols["kNN"]) == "52.0 ± 2.8 (n=2)"  # only two of the three have it
    assert cell(groups[0], cols["random-init linear"]) == "–"
    assert cell(groups[2], cols["linear"]) == "61.0 ± 1.4"
    semi = Row("s", "mamp", "xsub", "ntu", "data/synthetic", {"semi.1%.top1_mean": 40.0, "semi.1%.top1_std": 3.0})
    semi2 = replace(semi, name="s2", metrics={"semi.1%.top1_mean": 44.0, "semi.1%.top1_std": 1.0})
    assert cell(group_rows([semi])[0], cols["semi 1%"]) == "40.0 ± 3.0"  # one run: over its repeats
    assert cell(group_rows([semi, semi2])[0], cols["semi 1%"]) == "42.0 ± 2.8"  # two: over the runs
    pair = cols["robustness AUC random / centrality"]
    r1 = replace(semi, metrics={"robustness.auc.random": 70.0})
    r2 = replace(semi, metrics={"robustness.auc.random": 72.0, "robustness.auc.centrality": 60.0})
    assert cell(group_rows([r1, r2])[0], pair) == "71.0 ± 1.4 / 60.0 (n=1)"
    ws = replace(a1, name="workspace", origin="workspace", rev=None)
    assert [g.n for g in group_rows([a1, a2, ws])] == [2, 1]  # the workspace is never averaged in


def test_report_lists_where_each_row_comes_from():
    rows = [_exp("a1", "mamp", 1, **{"linear.top1": 80.0}), _exp("a2", "mamp", 2, **{"linear.top1": 82.0}),
            replace(_exp("w", "pstl", 5, **{"linear.top1": 60.0}), name="workspace", origin="workspace",
                    rev=None, dirty=True)]
    report = render_report(rows, PaperResults.load(), "both")
    assert "| R1 | mamp | ntu xsub (embedded) | methods.pstl.optim.epochs=100 | 2 | 81.0 ± 1.4 |" not in report
    assert "| R1 | mamp | ntu xsub (embedded) | 2 | 81.0 ± 1.4 |" in report
    assert ("- **R1** mamp, ntu xsub (embedded), n=2: experiment `a1` (`1111111`, run from commit `ccccccc`; "
            "seed 1, 2026-12-01 10:01); experiment `a2` (`2222222`, run from commit `ccccccc`; seed 2, "
            "2026-12-01 10:02).") in report
    assert ("- **R2** pstl, ntu xsub (embedded), n=1: workspace files at commit `ccccccc` + uncommitted "
            "changes (seed 5, 2026-12-01 10:05).") in report
    assert "mean ± sample std" in report


# ---------------------------------------------------------------------------- dvc exp show


def test_parse_recorded_exp_show():
    rows = parse_exp_show(_sample())
    by_name = {r.name: r for r in rows}
    # workspace and baseline are not experiments; queued and failed runs are skipped
    assert sorted(by_name) == ["mamp-seed1", "pending", "pstl-a", "s2v-queued"]
    mamp = by_name["mamp-seed1"]
    assert (mamp.method, mamp.split, mamp.source, mamp.input, mamp.origin) == \
        ("mamp", "xsub", "ntu", "data/synthetic", "exp")
    assert mamp.metrics["linear.top1"] == 81.5 and mamp.metrics["semi.1%.top1_mean"] == 40.75
    assert mamp.metrics["finetune.best_epoch"] == 7 and len(mamp.metrics) == 15
    assert mamp.timestamp == datetime(2026, 11, 21, 9, 1, 48)
    assert by_name["pending"].method == "pstl" and by_name["s2v-queued"].metrics["linear.top1"] == 84.0
    assert {r.baseline for r in rows} == {"75ff9cad6b31f400a32364c068f849c5a3a323c6"}
    assert by_name["pstl-a"].rev == "0dbb901c" + by_name["pstl-a"].rev[8:] and len(by_name["pstl-a"].rev) == 40
    assert by_name["pstl-a"].params["base.seed"] == 1 and by_name["pending"].params["base.seed"] == 3
    # pstl-a and pending differ only in their seed: one report row, kept whole
    latest = latest_per_method(rows)
    assert sorted(r.name for r in latest) == ["mamp-seed1", "pending", "pstl-a", "s2v-queued"]
    older = replace(by_name["pstl-a"], params={**by_name["pstl-a"].params, "evaluate.linear.epochs": 1})
    assert sorted(r.name for r in latest_per_method([older, by_name["pending"]])) == ["pending"]


def test_parse_exp_show_rejects_non_list():
    with pytest.raises(SkelsslError, match="expected a list"):
        parse_exp_show({"rev": "workspace"})


def test_no_experiments_says_how_to_get_them(tmp_path, monkeypatch):
    """A fresh clone: `dvc exp show` lists the workspace and HEAD, no experiment."""
    bare = [{"rev": "workspace", "name": None, "data": {}, "error": None, "experiments": None},
            {"rev": "a" * 40, "name": "main", "data": {}, "error": None, "experiments": None}]
    monkeypatch.setattr(collect_mod, "dvc_exp_show", lambda root, all_commits=False, revs=(): bare)
    with pytest.raises(SkelsslError) as info:
        collect("exps", tmp_path)
    message = str(info.value)
    assert "\n" not in message and "no finished DVC experiments" in message
    assert "dvc exp pull <git remote>" in message and "--all-commits" in message


def test_dvc_exp_show_passes_baselines_and_all_commits(monkeypatch):
    seen = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd[cmd.index("show") + 1:])
        return subprocess.CompletedProcess(cmd, 0, stdout="[]", stderr="")

    monkeypatch.setattr(collect_mod.subprocess, "run", fake_run)
    assert dvc_exp_show(Path("."), revs=["abc1234", "main"]) == []
    dvc_exp_show(Path("."), all_commits=True)
    dvc_exp_show(Path("."))
    assert seen == [["--json", "--rev", "abc1234", "--rev", "main"], ["--json", "--all-commits"], ["--json"]]


def test_dvc_exp_show_outside_a_repo_is_one_line_error(tmp_path):
    with pytest.raises(SkelsslError, match="dvc exp show failed: .*not inside of a DVC repository"):
        dvc_exp_show(tmp_path)


# ---------------------------------------------------------------------------- workspace


def _workspace(tmp: Path, method: str, files: dict[str, dict]) -> None:
    text = (ROOT / "params.yaml").read_text()
    (tmp / "params.yaml").write_text(text.replace("\nmethod: skeleton2vec", f"\nmethod: {method}", 1))
    for name, data in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(json.dumps(data))


def test_workspace_row_and_dedupe_against_experiments(tmp_path, monkeypatch):
    assert workspace_row(tmp_path) is None
    sample = _sample()
    exp = next(rev for e in sample[1]["experiments"] for rev in e["revs"] if rev["name"] == "mamp-seed1")
    files = json.loads(json.dumps({path: entry["data"] for path, entry in exp["data"]["metrics"].items()}))
    _workspace(tmp_path, "mamp", files)
    ws = workspace_row(tmp_path)
    assert ws is not None and (ws.name, ws.method, ws.split, ws.embedded) == ("workspace", "mamp", "xsub", True)
    assert ws.metrics["semi.10%.top1_mean"] == 76.5
    monkeypatch.setattr(collect_mod, "dvc_exp_show", lambda root, all_commits=False, revs=(): sample)
    # identical params and metrics: the workspace is the last experiment's output → one row, the exp's
    assert [r.name for r in collect("both", tmp_path)] == ["s2v-queued", "pstl-a", "pending", "mamp-seed1"]
    files["results/eval/metrics.json"]["knn"]["top1"] = 1.0
    _workspace(tmp_path, "mamp", files)
    rows = collect("both", tmp_path)
    assert [r.name for r in rows] == ["s2v-queued", "pstl-a", "pending", "workspace", "mamp-seed1"]
    assert [r.name for r in collect("workspace", tmp_path)] == ["workspace"]


def test_workspace_row_records_the_checked_out_commit(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    _workspace(tmp_path, "mamp", {"results/eval/metrics.json": EVAL})
    assert workspace_row(tmp_path).baseline is None  # not a git repository
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    ws = workspace_row(tmp_path)
    assert (ws.baseline, ws.dirty, ws.params["base.seed"], ws.params["method"]) == (head, False, 0, "mamp")
    (tmp_path / "results/eval/metrics.json").write_text(json.dumps({"linear": {"top1": 1.0}}))
    assert workspace_row(tmp_path).dirty
    assert workspace_row(tmp_path, git=False).baseline is None


def _lock(train: str = "aa", processed: str = "bb", report: str = "cc") -> str:
    """A dvc.lock: preprocess -> pretrain (code dep src/skelssl/train.py) and a report stage."""
    return json.dumps({"schema": "2.0", "stages": {
        "preprocess": {"cmd": "p", "deps": [{"path": "data/raw", "md5": "00.dir"}],
                       "outs": [{"path": "artifacts/processed", "md5": f"{processed}.dir"}]},
        "pretrain": {"cmd": "t", "deps": [{"path": "artifacts/processed/joints.npy", "md5": processed},
                                          {"path": "src/skelssl/train.py", "md5": train}],
                     "outs": [{"path": "artifacts/pretrain/encoder.pt", "md5": processed + train}]},
        "report": {"cmd": "r", "deps": [{"path": "artifacts/pretrain/encoder.pt", "md5": processed + train},
                                        {"path": "src/skelssl/report", "md5": f"{report}.dir"}]}}})


def test_commits_that_ran_the_same_code_share_a_code_version(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]

    def commit(path: str, text: str) -> str:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*git, "commit", "-qm", path], cwd=tmp_path, check=True)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout.strip()

    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    bare = commit("README.md", "no dvc.lock yet\n")
    first = commit("dvc.lock", _lock())
    docs = commit("docs/notes.md", "later\n")  # no stage depends on docs or tests
    tests = commit("tests/test_x.py", "def test(): pass\n")
    outputs = commit("dvc.lock", _lock(processed="b2"))  # other outputs (another seed): not inputs
    report = commit("dvc.lock", _lock(processed="b2", report="c2"))  # the report only reads results
    code = commit("dvc.lock", _lock(train="a2"))  # a code dependency of a stage that makes results
    library = commit("constraints.txt", "torch==2.13.0\n")  # pinned libraries count too
    versions = [collect_mod.code_version(tmp_path, c) for c in (first, docs, tests, outputs, report, code, library)]
    assert versions[0] is not None and len(set(versions[:5])) == 1
    assert len({versions[0], versions[5], versions[6]}) == 3
    assert "src/skelssl/train.py aa" in versions[0] and "data/raw 00.dir" in versions[0]
    assert collect_mod.code_version(tmp_path, bare) is None  # no dvc.lock
    assert collect_mod.code_version(tmp_path, "f" * 40) is None  # unknown commit
    versions = versions[:3] + [versions[5]]  # first, docs, tests, code: as used below

    # the code is read from each experiment's own commit (what ran), not from the commit it ran from
    rows = [replace(_exp(n, "mamp", seed, first, **{"linear.top1": 80.0 + seed}), rev=rev)
            for n, seed, rev in (("a", 1, first), ("b", 2, tests), ("c", 3, code))]
    assert [[r.name for r in g.rows] for g in group_rows(rows)] == [["a", "b", "c"]]  # one baseline
    versioned = collect_mod.with_code_versions(rows, tmp_path)
    assert [r.code for r in versioned] == [versions[0], versions[0], versions[3]]
    assert [[r.name for r in g.rows] for g in group_rows(versioned)] == [["a", "b"], ["c"]]
    unknown = replace(rows[0], rev="e" * 40)  # its own commit is not here: the baseline's code
    assert collect_mod.with_code_versions([unknown], tmp_path)[0].code == versions[0]
    ws = replace(rows[0], name="workspace", origin="workspace", rev=None)
    assert collect_mod.with_code_versions([ws], tmp_path)[0].code is None  # the workspace: its own row


def test_invalid_metrics_json_names_file_and_line(tmp_path):
    _workspace(tmp_path, "pstl", {})
    (tmp_path / "results" / "eval").mkdir(parents=True)
    (tmp_path / "results" / "eval" / "metrics.json").write_text('{\n  "linear": ,\n}')
    with pytest.raises(SkelsslError, match=r"results/eval/metrics\.json:2: invalid JSON"):
        workspace_row(tmp_path)


# ---------------------------------------------------------------------------- paper numbers


def test_paper_results_valid_and_complete():
    data = load_raw()
    assert validate(data) == []
    assert set(data["methods"]) == set(METHOD_NAMES)
    values = [v for m in data["methods"].values() for rec in m["results"] for v in rec["values"].values()]
    assert len(values) == 70 and all(0 <= v <= 100 for v in values)
    paper = PaperResults.load()
    mamp = paper.lookup("mamp", "linear", "ntu60_xsub")
    assert mamp is not None and (mamp.value, mamp.unverified, mamp.variant) == (84.9, True, "paper")
    assert paper.lookup("mamp", "linear", "ntu60_xsub", variant="readme").value == 85.0
    assert paper.lookup("pstl", "linear", "ntu120_xsub", variant="3s").unverified
    assert not paper.lookup("pstl", "linear", "ntu60_xsub", variant="3s").unverified
    assert paper.lookup("skeletonmae_st", "finetune", "ntu60_xsub").value == 88.5  # MAMP-lineage first
    assert paper.lookup("skeletonmae_graph", "linear", "ntu60_xsub") is None
    assert paper.lookup("skeletonmae_graph", "finetune", "ntu60_xsub").value == 92.8


def test_paper_validator_reports_problems():
    data = load_raw()
    data["methods"].pop("pstl")
    data["methods"]["mamp"]["results"][0]["values"]["ntu60_xsub"] = 184.9
    data["methods"]["mamp"]["results"][1]["protocol"] = "zero-shot"
    assert validate(data) == ["method pstl missing", "mamp.results[0].ntu60_xsub: 184.9 is not a percentage",
                              "mamp.results[1]: unknown protocol 'zero-shot'"]


# ---------------------------------------------------------------------------- outputs and CLI


def test_write_report_png_and_markdown(tmp_path):
    rows = parse_exp_show(_sample())
    md, png = write_report(rows, tmp_path / "out", "exps")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    text = md.read_text()
    assert text.count("\n| R") == 3 * len(TABLES) and "| R1 | pstl | ntu xsub (embedded) | 2 |" in text
    assert "experiment `pstl-a` (`0dbb901`, run from commit `75ff9ca`; seed 1" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".skelssl-output", "report.md", "report.png"]


def test_figure_draws_random_init_bars_and_seed_error_bars():
    from matplotlib.container import ErrorbarContainer

    from skelssl.report.figure import bar_values, build_figure, figure_columns

    rows = [_exp("a1", "mamp", 1, **{"linear.top1": 80.0, "random_init.linear.top1": 40.0, "knn.top1": 50.0}),
            _exp("a2", "mamp", 2, **{"linear.top1": 84.0, "random_init.linear.top1": 44.0}),
            _exp("p", "pstl", 1, **{"finetune.top1_last": 70.0, "scratch.top1_last": 55.0})]
    groups = group_rows(rows)
    columns = figure_columns()
    assert [c.label for c in columns] == ["linear", "kNN", "fine-tune", "semi 1%", "semi 10%", "streams ensemble"]
    values = bar_values(groups, columns)
    assert values[0][0] == ((82.0, pytest.approx(2.828, abs=1e-3)), (42.0, pytest.approx(2.828, abs=1e-3)))
    assert values[0][1] == ((50.0, None), None) and values[1][2] == ((70.0, None), (55.0, None))
    ax = build_figure(groups).axes[0]
    drawn = [p for p in ax.patches if p.get_width() > 0]
    hatched = sorted(round(p.get_height(), 1) for p in drawn if p.get_hatch())
    solid = sorted(round(p.get_height(), 1) for p in drawn if not p.get_hatch())
    assert hatched == [42.0, 55.0] and solid == [50.0, 70.0, 82.0]  # kNN has no random-init value here
    assert [t.get_text() for t in ax.get_xticklabels()] == ["linear", "kNN", "fine-tune"]
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 2  # the n=2 row: its pretrained and its random-init bars; R2 (n=1): none
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["R1 mamp (n=2) *", "R2 pstl *", "hatched: random-init encoder / from scratch"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skelssl", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_without_metrics_fails_with_one_line(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    done = _cli("report", "--from", "workspace", "--out", "out", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: report: no metrics found"), done.stderr
    assert not (tmp_path / "out").exists()


def test_stage_script_writes_report(tmp_path, monkeypatch):
    _workspace(tmp_path, "pstl", {"results/eval/metrics.json": EVAL,
                                  "results/streams/metrics.json": {"joint": 80.0, "ensemble": 88.12}})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stages/report.py", "docs/report"])
    runpy.run_path(str(ROOT / "stages" / "report.py"), run_name="__main__")  # in-process: no torch re-import
    text = (tmp_path / "docs" / "report" / "report.md").read_text()
    assert "| R1 | pstl | ntu xsub (embedded) | 1 | 85.4 | 54.4 | 53.2 | 47.9 |" in text and "| 88.1 |" in text
    # the DVC stage names no commit (not one of its dependencies), only the workspace's seed
    assert "- **R1** pstl, ntu xsub (embedded), n=1: the workspace's metrics files (seed 0, " in text
    assert (tmp_path / "docs" / "report" / "report.png").stat().st_size > 5000


def test_experiment_options_with_the_workspace_alone_are_refused(tmp_path, monkeypatch):
    """--all-commits / --rev choose experiments: with --from workspace they would be ignored silently."""
    from helpers import invoke_cli, one_error_line

    monkeypatch.chdir(tmp_path)
    for option in (["--all-commits"], ["--rev", "HEAD"]):
        line = one_error_line(invoke_cli(["report", "--from", "workspace", "--out", "rep", *option]))
        assert line.startswith(f"error: {option[0]}: selects experiments"), line
    assert not (tmp_path / "rep").exists()
