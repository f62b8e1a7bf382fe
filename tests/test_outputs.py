"""skelssl.outputs: where a stage may write, what it may replace, temporaries and permissions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import tmpfs, tree_snapshot
from pathlib import Path

from skelssl.outputs import (
    MARKER,
    OutputError,
    atomic_dir,
    atomic_file,
    check_output_path,
    claim_output_dir,
    marker_stage,
    remove_stale_temporaries,
)


_tree = tree_snapshot


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout)


# ---------------------------------------------------------------------------- where


@pytest.mark.parametrize("out", [".", "..", "raw", "raw/inner", "raw/inner/deeper", "/"])
def test_output_may_not_be_cwd_input_or_their_parents(tmp_path, monkeypatch, out):
    (tmp_path / "raw" / "inner").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError) as err:
        check_output_path(tmp_path / out, [tmp_path / "raw" / "inner"])
    assert "\n" not in str(err.value)


def test_output_inside_cwd_beside_input_is_fine(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()
    monkeypatch.chdir(tmp_path)
    check_output_path(tmp_path / "out", [tmp_path / "raw"])
    check_output_path(tmp_path / "artifacts" / "out", [tmp_path / "raw"])


def test_symlinked_output_into_the_input_is_refused(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "raw")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="may not be the input"):
        check_output_path(tmp_path / "link", [tmp_path / "raw"])


# ---------------------------------------------------------------------------- atomic_dir


def test_atomic_dir_writes_marker_and_replaces_its_own_output(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final, "ingest") as tmp:
        (tmp / "a.txt").write_text("1")
    assert marker_stage(final) == "ingest" and (final / "a.txt").read_text() == "1"
    with atomic_dir(final, "ingest") as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries left


@pytest.mark.parametrize("make", ["file", "foreign_dir", "other_stage", "symlink"])
def test_atomic_dir_refuses_what_it_did_not_write(tmp_path, make):
    final = tmp_path / "out"
    if make == "file":
        final.write_text("user data")
    elif make == "foreign_dir":
        final.mkdir()
        (final / "thesis.tex").write_text("user data")
    elif make == "other_stage":
        with atomic_dir(final, "preprocess") as tmp:
            (tmp / "x").write_text("preprocessed")
    else:
        (tmp_path / "target").mkdir()
        (tmp_path / "target" / "keep").write_text("user data")
        final.symlink_to(tmp_path / "target")
    before = _tree(tmp_path)
    ran = []
    with pytest.raises(OutputError, match="refusing to replace"):
        with atomic_dir(final, "ingest"):
            ran.append(True)
    assert not ran  # refused before any work
    assert _tree(tmp_path) == before


def test_atomic_dir_reuses_an_empty_folder(tmp_path):
    (tmp_path / "out").mkdir()
    with atomic_dir(tmp_path / "out", "ingest") as tmp:
        (tmp / "a").write_text("1")
    assert (tmp_path / "out" / "a").read_text() == "1"


def test_failure_keeps_the_earlier_output_and_removes_the_temporary(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final, "ingest") as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(final, "ingest") as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError("boom")
    assert (final / "a").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_that_appears_during_the_run_is_not_replaced(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(OutputError):
        with atomic_dir(final, "ingest") as tmp:
            (tmp / "a").write_text("1")
            final.mkdir()
            (final / "mine").write_text("user data")
    assert (final / "mine").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------------------- temporaries


def _leftover(parent, name, pid, *, marker: str | None):
    import secrets

    from skelssl.outputs import _host

    path = parent / f".{name}.tmp-{_host()}-{pid}-{secrets.token_hex(4)}"
    path.mkdir()
    (path / "joints.npy").write_bytes(b"x" * 100)
    if marker:
        (path / MARKER).write_text(f'{{"stage": "{marker}"}}')
    return path


def test_stale_temporaries_of_dead_runs_are_removed_others_kept(tmp_path):
    dead = _dead_pid()
    stale = _leftover(tmp_path, "out", dead, marker="ingest")
    alive = _leftover(tmp_path, "out", os.getppid(), marker="ingest")
    unmarked = _leftover(tmp_path, "out", dead, marker=None)
    foreign = _leftover(tmp_path, "out", dead, marker="preprocess")
    other_name = _leftover(tmp_path, "other", dead, marker="ingest")
    user = tmp_path / ".out.tmp-notes"
    user.write_text("user data")
    with atomic_dir(tmp_path / "out", "ingest") as tmp:
        (tmp / "a").write_text("1")
    assert not stale.exists()
    for kept in (alive, unmarked, foreign, other_name, user):
        assert kept.exists()


def test_stale_file_temporaries_are_removed(tmp_path):
    from skelssl.outputs import _host

    dead = _dead_pid()
    stale = tmp_path / f".metrics.json.tmp-{_host()}-{dead}-0badf00d"
    stale.write_text("{")
    near_miss = tmp_path / f".metrics.json.tmp-{_host()}-{dead}-short"
    near_miss.write_text("user")
    assert remove_stale_temporaries(tmp_path, ["metrics.json"]) == [stale]
    assert near_miss.exists()


SIGNAL_SCRIPT = r"""
import os, sys, time
from pathlib import Path
from skelssl.outputs import atomic_dir
from skelssl.runner import guarded

def work():
    with atomic_dir(Path(sys.argv[1]), "ingest") as tmp:
        (tmp / "big").write_bytes(b"x" * 1000)
        print("ready", flush=True)
        time.sleep(60)

guarded(work)
"""


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_leave_no_temporary(tmp_path, signum):
    import signal

    script = tmp_path / "work.py"
    script.write_text(SIGNAL_SCRIPT)
    parent = tmp_path / "parent"
    parent.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(parent / "out")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert len(list(parent.iterdir())) == 1  # the temporary exists while it works
    proc.send_signal(getattr(signal, signum))
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + getattr(signal, signum)
    assert stderr.strip().splitlines() == [stderr.strip()] and stderr.startswith("error: interrupted by")
    assert list(parent.iterdir()) == []


def test_kill_9_leftover_is_removed_by_the_next_run(tmp_path):
    import signal

    script = tmp_path / "work.py"
    script.write_text(SIGNAL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]
    assert len(left) == 1
    with atomic_dir(tmp_path / "out", "ingest") as tmp:
        (tmp / "a").write_text("1")
    assert not left[0].exists()


# ---------------------------------------------------------------------------- claim_output_dir


def test_claim_creates_the_folder_with_a_marker_on_first_write(tmp_path):
    from skelssl.io import write_json

    folder = claim_output_dir(tmp_path / "results" / "eval", "evaluate", ["metrics.json"])
    assert not folder.exists()  # a stage that fails before writing leaves nothing
    write_json(folder / "metrics.json", {"top1": 1.0})
    assert marker_stage(folder) == "evaluate"
    claim_output_dir(folder, "evaluate", ["metrics.json"])  # again: fine
    write_json(folder / "metrics.json", {"top1": 2.0})
    assert json.loads((folder / "metrics.json").read_text()) == {"top1": 2.0}  # its own output: replaced
    assert marker_stage(folder) == "evaluate"


def test_claim_refuses_to_overwrite_a_users_file(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "metrics.json").write_text("user data")
    with pytest.raises(OutputError, match="refusing to overwrite"):
        claim_output_dir(folder, "evaluate", ["metrics.json", "confusion.csv"])
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json"]


def test_claim_accepts_a_folder_where_nothing_would_be_overwritten(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("user data")
    claim_output_dir(folder, "evaluate", ["metrics.json"])
    assert marker_stage(folder) == "evaluate" and (folder / "notes.txt").read_text() == "user data"


def test_claim_refuses_another_stages_folder_and_a_file(tmp_path):
    claim_output_dir(tmp_path / "eval", "evaluate", ["metrics.json"])
    with atomic_file(tmp_path / "eval" / "metrics.json") as tmp:
        tmp.write_text("{}")
    with pytest.raises(OutputError):
        claim_output_dir(tmp_path / "eval", "finetune", ["metrics.json"])
    (tmp_path / "afile").write_text("user data")
    with pytest.raises(OutputError, match="not a folder"):
        claim_output_dir(tmp_path / "afile", "evaluate", ["metrics.json"])
    (tmp_path / "eval2").mkdir()
    (tmp_path / "eval2" / "metrics.json").mkdir()
    with pytest.raises(OutputError, match="not a regular file"):
        claim_output_dir(tmp_path / "eval2", "evaluate", ["metrics.json"])


def test_atomic_file_refuses_to_replace_a_folder(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(OutputError):
        with atomic_file(tmp_path / "x.json"):
            pass


# ---------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_dir(tmp_path / "out", "ingest") as tmp:
            (tmp / "data.bin").write_bytes(b"1")
        with atomic_file(tmp_path / "out" / "meta.json") as tmp:
            tmp.write_text("{}")
        claim_output_dir(tmp_path / "res", "evaluate", ["metrics.json"])
        with atomic_file(tmp_path / "res" / "metrics.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    mode = lambda p: p.stat().st_mode & 0o777  # noqa: E731
    assert mode(tmp_path / "out") == 0o777 & ~umask
    assert mode(tmp_path / "res") == 0o777 & ~umask
    assert mode(tmp_path / "out" / "meta.json") == 0o666 & ~umask
    assert mode(tmp_path / "out" / MARKER) == 0o666 & ~umask


@pytest.mark.parametrize("writer", ["parquet", "torch"])
def test_library_disk_full_errors_become_os_errors(tmp_path, writer):
    """polars and torch.save report a full disk in their own exception types: both become an
    OSError naming the output (so the CLI prints one line)."""
    with tmpfs(tmp_path / "small") as mount:
        with pytest.raises(OSError) as err:
            with atomic_file(mount / "out.bin") as tmp:
                if writer == "parquet":
                    import numpy as np
                    import polars as pl

                    pl.DataFrame({"a": np.arange(100_000)}).write_parquet(tmp)
                else:
                    import torch

                    torch.save({"a": torch.arange(100_000)}, tmp)
        assert err.value.errno == 28 and err.value.filename == str(mount / "out.bin")
        assert list(mount.iterdir()) == []
