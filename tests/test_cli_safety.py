"""Every refused command leaves a user's folder exactly as it was, and says why in one line.

The CLI runs in a temporary folder holding an unrelated file and folder of the user; each command
below must exit 1 with exactly one `error:` line (no traceback), and the whole folder tree (paths
and bytes) must be unchanged afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from helpers import ROOT, tmpfs, tree_snapshot
from skelssl.cli import app


_tree = tree_snapshot


def _invoke(args):
    logging.getLogger("skelssl").handlers.clear()  # the handler binds the stream of its first run
    return CliRunner().invoke(app, args, catch_exceptions=False)


def _one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.stdout)
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return errors[0]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user's folder: unrelated files, a raw dataset, an earlier skelssl output of each kind."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "thesis.tex").write_text("three years of work")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("user data")
    (tmp_path / "mine" / "metrics.json").write_text('{"mine": 1}')
    (tmp_path / "mine" / "encoder.pt").write_bytes(b"user weights")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "S001C001P001R001A001.skeleton").write_text("not parsed: refused first\n")
    (tmp_path / "emptyish").mkdir()
    (tmp_path / "emptyish" / "report.md").write_text("my own report")
    return tmp_path


REFUSED = [
    ["ingest", "raw", "."],
    ["ingest", "raw", ".."],
    ["ingest", "raw", "raw"],
    ["ingest", "raw", "raw/sub"],
    ["ingest", "raw", "thesis.tex"],
    ["ingest", "raw", "mine"],
    ["ingest", "raw", "/"],
    ["preprocess", "mine", "mine"],
    ["preprocess", "mine", "."],
    ["preprocess", "raw", "thesis.tex"],
    ["prepare", "raw", "out", "mine"],  # checked before ingest: no "out" appears
    ["prepare", "raw", "mine", "out"],
    ["prepare", "raw", "out", "out"],
    ["prepare", "raw", "out", "raw"],
    ["prepare", "raw", "out", "thesis.tex"],
    ["prepare", "raw", "out", "processed"],  # raw's file does not parse: neither folder appears
    ["synthesize", "."],
    ["synthesize", "mine"],
    ["synthesize", "thesis.tex"],
    ["pretrain", "raw", ".", "hist", "state"],
    ["pretrain", "raw", "mine", "hist", "state"],
    ["pretrain", "raw", "raw", "hist", "state"],
    ["evaluate", "raw", "mine/encoder.pt", "."],
    ["evaluate", "raw", "mine/encoder.pt", "mine"],
    ["evaluate", "raw", "mine/encoder.pt", "thesis.tex"],
    ["finetune", "raw", "enc.pt", "mine"],
    ["semi", "raw", "enc.pt", "mine"],
    ["robustness", "raw", "enc.pt", ".."],
    ["streams", "raw", "enc.pt", "mine"],
    ["embedding", "raw", "enc.pt", "raw"],
    ["transfer", "mine/encoder.pt", "mine"],
    ["export-pyskl", "raw", "thesis.tex"],
    ["export-pyskl", "raw", "."],
    ["export-pyskl", "raw", "mine"],
    ["report", "--from", "workspace", "--out", "emptyish"],
    ["report", "--from", "workspace", "--out", "thesis.tex"],
    ["params", "check", "mine"],
    ["params", "check", "thesis.tex"],
    ["ingest", "raw", "out", "--params", "mine"],
]


@pytest.mark.parametrize("args", REFUSED, ids=[" ".join(a) for a in REFUSED])
def test_refused_command_changes_nothing(home, args):
    before = _tree(home.parent)
    _one_error_line(_invoke(args))
    assert _tree(home.parent) == before


def test_user_text_is_printed_literally(home):
    weird = home / "d[/x]:x:[raw] é"
    weird.mkdir(parents=True)
    (weird / "keep").write_text("user data")
    line = _one_error_line(_invoke(["ingest", "raw", str(weird)]))
    assert "d[/x]:x:[raw] é" in line
    yaml = (home / "params.yaml").read_text().replace("split: xsub", "split: 'X[/b]:x:'", 1)
    (home / "p.yaml").write_text(yaml)
    result = _invoke(["params", "check", "p.yaml"])
    assert result.exit_code == 1 and "X[/b]:x:" in result.stderr, result.stderr


def test_os_errors_are_one_line(home, monkeypatch):
    """A read-only file system (EROFS) under the output: exit 1, one line naming the path."""
    with tmpfs(home / "ro", "ro,size=64k"):
        line = _one_error_line(_invoke(["synthesize", "ro/out"]))
        assert "ro/out" in line and "Read-only file system" in line, line


def test_disk_full_is_one_line_and_leaves_nothing(home):
    """ENOSPC while writing (a 64 KiB tmpfs): exit 1, one line, no temporary left behind."""
    with tmpfs(home / "small") as mount:
        line = _one_error_line(_invoke(["synthesize", "small/out"]))
        assert line.startswith("error: small/out") and "No space left on device" in line, line
        assert list(mount.iterdir()) == []


def test_stage_script_refuses_too(home):
    """The DVC stage scripts (`stages/*.py`) go through the same checks."""
    before = _tree(home)
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "ingest.py"), "raw", "."],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.startswith("error: .: the output may not be")
    assert "Traceback" not in proc.stderr
    assert _tree(home) == before
