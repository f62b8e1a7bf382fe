"""Every refused command leaves a user's folder exactly as it was, and says why in one line.

The CLI runs in a temporary folder holding an unrelated file and folder of the user; each command
below must exit 1 with exactly one `error:` line (no traceback), and the whole folder tree (paths
and bytes) must be unchanged afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, invoke_cli, one_error_line, tmpfs, tree_snapshot


_tree = tree_snapshot


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user's folder: unrelated files and folders, a raw dataset whose one file does not parse."""
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


# each command, and the path its one error line must start with and why it refuses (the output
# check, not a broken input, wherever the case is about an output path)
REFUSED = [
    (["ingest", "raw", "."], ".", "may not be the working directory"),
    (["ingest", "raw", ".."], "..", "must end in a folder or file name"),
    (["ingest", "raw", "raw"], "raw", "may not be the input"),
    (["ingest", "raw", "raw/sub"], "raw/sub", "may not lie inside the input"),
    (["ingest", "raw", "thesis.tex"], "thesis.tex", "refusing to replace it"),
    (["ingest", "raw", "mine"], "mine", "refusing to replace it"),
    (["ingest", "raw", "/"], "/", "may not be the working directory"),
    (["preprocess", "mine", "mine"], "mine", "may not be the input"),
    (["preprocess", "mine", "."], ".", "may not be the working directory"),
    (["preprocess", "raw", "thesis.tex"], "thesis.tex", "refusing to replace it"),
    (["prepare", "raw", "out", "mine"], "mine", "refusing to replace it"),  # before ingest: no "out" appears
    (["prepare", "raw", "mine", "out"], "mine", "refusing to replace it"),
    (["prepare", "raw", "out", "out"], "out", "may not be the input"),
    (["prepare", "raw", "out", "raw"], "raw", "may not be the input"),
    (["prepare", "raw", "out", "thesis.tex"], "thesis.tex", "refusing to replace it"),
    # raw's file does not parse: neither folder appears
    (["prepare", "raw", "out", "processed"], "raw/S001C001P001R001A001.skeleton:1", "expected frame count"),
    (["synthesize", "."], ".", "may not be the working directory"),
    (["synthesize", "mine"], "mine", "refusing to replace it"),
    (["synthesize", "thesis.tex"], "thesis.tex", "refusing to replace it"),
    (["pretrain", "raw", ".", "hist", "state"], ".", "may not be the working directory"),
    (["pretrain", "raw", "mine", "hist", "state"], "mine/encoder.pt", "refusing to overwrite it"),
    (["pretrain", "raw", "raw", "hist", "state"], "raw", "may not be the input"),
    (["evaluate", "raw", "mine/encoder.pt", "."], ".", "may not be the working directory"),
    (["evaluate", "raw", "mine/encoder.pt", "mine"], "mine", "may not contain the input"),
    (["evaluate", "raw", "mine/encoder.pt", "thesis.tex"], "thesis.tex", "refusing to write"),
    (["finetune", "raw", "enc.pt", "mine"], "mine/metrics.json", "refusing to overwrite it"),
    (["semi", "raw", "enc.pt", "mine"], "mine/metrics.json", "refusing to overwrite it"),
    (["robustness", "raw", "enc.pt", ".."], "..", "must end in a folder or file name"),
    (["streams", "raw", "enc.pt", "mine"], "mine/metrics.json", "refusing to overwrite it"),
    (["embedding", "raw", "enc.pt", "raw"], "raw", "may not be the input"),
    (["transfer", "mine/encoder.pt", "mine"], "mine", "may not contain the input"),
    (["export-pyskl", "raw", "thesis.tex"], "thesis.tex", "refusing to overwrite it"),
    (["export-pyskl", "raw", "."], ".", "may not be the working directory"),
    (["export-pyskl", "raw", "mine"], "mine", "refusing to replace it"),
    (["report", "--from", "workspace", "--out", "emptyish"], "emptyish/report.md", "refusing to overwrite it"),
    (["report", "--from", "workspace", "--out", "thesis.tex"], "thesis.tex", "refusing to write"),
    (["params", "check", "mine"], "mine", "is a folder, not a params file"),
    (["params", "check", "thesis.tex"], "thesis.tex", "Input should be a valid dictionary"),
    (["ingest", "raw", "out", "--params", "mine"], "mine", "is a folder, not a params file"),
]


@pytest.mark.parametrize(("args", "named", "why"), REFUSED, ids=[" ".join(a) for a, _, _ in REFUSED])
def test_refused_command_changes_nothing(home, args, named, why):
    before = _tree(home.parent)
    line = one_error_line(invoke_cli(args))
    assert line.startswith(f"error: {named}: ") and why in line, line
    assert _tree(home.parent) == before


def test_user_text_is_printed_literally(home):
    weird = home / "d[/x]:x:[raw] é"
    weird.mkdir(parents=True)
    (weird / "keep").write_text("user data")
    line = one_error_line(invoke_cli(["ingest", "raw", str(weird)]))
    assert "d[/x]:x:[raw] é" in line
    yaml = (home / "params.yaml").read_text().replace("split: xsub", "split: 'X[/b]:x:'", 1)
    (home / "p.yaml").write_text(yaml)
    result = invoke_cli(["params", "check", "p.yaml"])
    assert result.exit_code == 1 and "X[/b]:x:" in result.stderr, result.stderr


def test_os_errors_are_one_line(home, monkeypatch):
    """A read-only file system (EROFS) under the output: exit 1, one line naming the path."""
    with tmpfs(home / "ro", "ro,size=64k"):
        line = one_error_line(invoke_cli(["synthesize", "ro/out"]))
        assert "ro/out" in line and "Read-only file system" in line, line


def test_disk_full_is_one_line_and_leaves_nothing(home):
    """ENOSPC while writing (a 64 KiB tmpfs): exit 1, one line, no temporary left behind."""
    with tmpfs(home / "small") as mount:
        line = one_error_line(invoke_cli(["synthesize", "small/out"]))
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


def test_an_unreadable_params_file_or_input_is_one_line(home):
    """Read permission is checked by skelssl, not by the command-line parser (whose usage error
    would be three lines and exit code 2). Run without the capability that lets root read anything."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's read override")
    (home / "params.yaml").chmod(0)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    for args in (["synthesize", "out"], ["params", "check", "params.yaml"]):
        proc = subprocess.run([*drop, sys.executable, "-m", "skelssl", *args], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1 and proc.stderr == "error: params.yaml: cannot read (Permission denied)\n", proc
