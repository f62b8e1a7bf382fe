"""The stages' live log (`skelssl.live`, dvclive): where it writes, what it refuses, and that it has
none of dvclive's repository side effects (no `dvc init`, no dvc.yaml, no experiment, no report).
The stages' use of it: tests/test_finetune.py (finetune, semi), tests/test_resume.py (pretraining
and its resume), tests/test_plots.py (what `dvc plots show` draws), tests/test_dvc_remote.py
(under `dvc repro`)."""

from __future__ import annotations

import json
import subprocess

import pytest
from ruamel.yaml import YAML

from skelssl.live import LiveLog, check_live_dir
from skelssl.outputs import MARKER, OutputError, _host


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_log_writes_series_summary_and_params(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    out = tmp_path / "results"
    live = LiveLog(out, "pretrain", {"method": "mamp", "betas": (0.9, 0.95), "path": tmp_path},
                   not_in_summary=["lr"])
    for step in range(3):
        live.log(step, {"loss": 1.0 / (step + 1), "lr": 0.1 * step})
    live.sync()
    live.log_params({"steps_per_epoch": 3})
    live.close()
    assert _files(out) == [MARKER, "live/metrics.json", "live/params.yaml",
                           "live/plots/metrics/loss.tsv", "live/plots/metrics/lr.tsv"]
    assert json.loads((out / MARKER).read_text())["stage"] == "pretrain"
    assert (out / "live/plots/metrics/lr.tsv").read_text().splitlines() == [
        "step\tlr", "0\t0.0", "1\t0.1", "2\t0.2"]
    # the summary holds results only: the lr is plotted, not a metric
    assert json.loads((out / "live/metrics.json").read_text()) == {"loss": 1.0 / 3, "step": 2}
    assert YAML(typ="safe").load(out / "live/params.yaml") == {
        "method": "mamp", "betas": [0.9, 0.95], "path": str(tmp_path), "steps_per_epoch": 3}


def test_a_new_run_replaces_its_own_log_only(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    out = tmp_path / "results"
    first = LiveLog(out, "finetune", {"run": 1})
    first.log(1, {"finetune/top1": 50.0}, plot=False)
    first.log_table("top1", [{"epoch": 1, "series": "finetune", "top1": 50.0}])
    first.close()
    (out / "live" / "notes.txt").write_text("mine")  # not dvclive's: kept
    stale = out / "live" / f".metrics.json.tmp-{_host()}-999999999-deadbeef"  # a killed run's (pid gone)
    stale.write_text("{")
    second = LiveLog(out, "finetune", {"run": 2})
    second.close()
    assert _files(out) == [MARKER, "live/metrics.json", "live/notes.txt", "live/params.yaml"]
    assert YAML(typ="safe").load(out / "live/params.yaml") == {"run": 2}
    assert json.loads((out / "live/metrics.json").read_text()) == {}


def test_foreign_live_folder_is_refused(tmp_path):
    out = tmp_path / "mine"
    (out / "live").mkdir(parents=True)
    (out / "live" / "metrics.json").write_text("{}")  # someone else's, in an unmarked folder
    with pytest.raises(OutputError, match="refusing to replace it"):
        LiveLog(out, "semi", {})
    (out / MARKER).write_text(json.dumps({"stage": "finetune", "by": "skelssl"}))  # another stage's
    with pytest.raises(OutputError, match="was not written by `skelssl semi`"):
        check_live_dir(out, "semi")
    assert _files(out) == [MARKER, "live/metrics.json"] and (out / "live/metrics.json").read_text() == "{}"
    (tmp_path / "file").mkdir()
    (tmp_path / "file" / "live").write_text("a file where the folder goes")
    with pytest.raises(OutputError, match="is not a folder"):
        check_live_dir(tmp_path / "file", "semi")
    empty = tmp_path / "empty"
    (empty / "live").mkdir(parents=True)
    assert check_live_dir(empty, "semi") == empty / "live"  # an empty folder may be used


def test_stage_refuses_a_foreign_live_folder_before_any_work(tmp_path):
    from helpers import default_params
    from skelssl.pipeline.finetune import run_semi

    out = tmp_path / "out"
    (out / "live" / "plots" / "custom").mkdir(parents=True)
    (out / "live" / "plots" / "custom" / "top1.json").write_text("[]")
    with pytest.raises(OutputError):
        run_semi(default_params(), tmp_path / "no-such-processed", tmp_path / "no-encoder.pt", out)
    assert _files(out) == ["live/plots/custom/top1.json"]  # no marker added, nothing removed


def _git(cwd, *args):
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.mark.parametrize("under_dvc", [False, True])
def test_no_repository_side_effects(tmp_path, monkeypatch, under_dvc):
    """In a Git repository without a commit: outside DVC, where it has no DVC either, dvclive would
    `dvc init` it; under DVC (`dvc repro` sets DVC_ROOT) dvclive 3.49 raises there. The stage's log
    does neither, and adds nothing to the repository: no dvc.yaml, no report, no experiment."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("DVC_STUDIO_OFFLINE", "true")  # never the network, whatever the machine's config
    if under_dvc:
        from dvc.repo import Repo

        Repo.init(str(repo))
        monkeypatch.setenv("DVC_ROOT", str(repo))
    else:
        monkeypatch.delenv("DVC_ROOT", raising=False)
        monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # not a DVC repository: ignored
    before = sorted(p.name for p in repo.iterdir())
    staged = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    live = LiveLog(repo / "results", "pretrain", {"seed": 0})
    live.log(0, {"loss": 1.0})
    live.sync()
    live.close()
    assert sorted(p.name for p in repo.iterdir()) == sorted([*before, "results"])  # no .dvc, dvc.yaml
    assert _files(repo / "results") == [MARKER, "live/metrics.json", "live/params.yaml",
                                        "live/plots/metrics/loss.tsv"]  # no report, no dvc.yaml
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    assert status.stdout == staged + "?? results/\n"  # nothing staged
    refs = subprocess.run(["git", "for-each-ref"], cwd=repo, capture_output=True, text=True)
    assert refs.stdout == ""  # no commit, no experiment ref


def test_nothing_is_written_before_the_first_log(tmp_path):
    """A stage that fails between claiming its folder and training (bad batch size, empty split)
    leaves no log."""
    LiveLog(tmp_path / "results", "semi", {"seed": 0})
    assert not (tmp_path / "results").exists()
