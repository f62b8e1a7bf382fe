"""Sharing data and results through a DVC remote (README "Sharing data and checkpoints with your
team"), in a temporary copy of the repository with a local-folder remote: `dvc add data/raw`,
`dvc remote add -d`, `dvc repro`, `dvc push`; then a fresh `git clone`, `dvc pull`, and the
pulled stages, pretraining included, are up to date (`dvc status`, `dvc repro` runs nothing): the
resumable checkpoint is scratch outside DVC, so a clone never misses it. And a pretraining run
killed under `dvc repro` resumes from that checkpoint on the next `dvc repro`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ruamel.yaml import YAML

from helpers import copy_project, update_in_place

TINY = {"synthesize": {"classes": 4, "subjects": 2, "frames": {"min": 20, "max": 30}},
        "preprocess": {"frames": 8},
        "method": "skeleton2vec",
        "pretrain": {"device": "cpu", "threads": 1, "checkpoint_every": 1},
        "methods": {"skeleton2vec": {
            "optim": {"epochs": 2, "batch_size": 8, "warmup_epochs": 1},
            "backbone": {"dim": 32, "depth": 2, "heads": 2, "t_patch": 2},
            "decoder": {"dim": 32, "depth": 1, "heads": 2}, "top_k": 2}}}
STAGE = "pretrain"  # synthesize -> ingest -> preprocess -> pretrain: seconds with TINY
ENCODER = "artifacts/pretrain/encoder.pt"
STATE = "artifacts/pretrain-state/state.pt"  # dvc.yaml's 4th pretrain path: scratch, not an output
LIVE = "results/pretrain/live"  # the live log (skelssl.live): in git, like the other results
LOSS = f"{LIVE}/plots/metrics/loss.tsv"
GIT = ["git", "-c", "user.name=skelssl test", "-c", "user.email=test@example.invalid",
       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]


def _env() -> dict[str, str]:
    env = dict(os.environ)  # the stages run `python`: the one running the tests
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(str(Path(sys.executable).with_name("dvc")), *args, cwd=cwd)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """A project that ran the data stages and pushed everything to a local remote."""
    root = tmp_path_factory.mktemp("dvc-remote")
    project, remote = root / "project", root / "remote"
    copy_project(project)
    yaml = YAML(typ="rt")
    params = yaml.load(project / "params.yaml")
    update_in_place(params, TINY)
    yaml.dump(params, project / "params.yaml")
    (project / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (project / "data" / "raw" / "README.txt").write_text("raw data shared through the remote\n")
    run(*GIT, "init", "-q", cwd=project)
    dvc("add", "data/raw", cwd=project)
    dvc("remote", "add", "-d", "storage", str(remote), cwd=project)
    dvc("repro", STAGE, cwd=project)
    pushed = dvc("push", cwd=project)
    run(*GIT, "add", "-A", cwd=project)
    run(*GIT, "commit", "-q", "-m", "data stages", cwd=project)
    return {"project": project, "remote": remote, "root": root, "push": pushed}



def _clone(shared, name: str) -> Path:
    clone = shared["root"] / name
    run(*GIT, "clone", "-q", str(shared["project"]), str(clone), cwd=shared["root"])
    assert not (clone / "artifacts").exists()  # outputs live in the remote, not in git
    return clone


@pytest.mark.slow
def test_push_fills_the_remote(shared):
    cached = [p for p in shared["remote"].rglob("*") if p.is_file()]
    assert len(cached) > 10  # raw data, the synthesized files, the ingest and preprocess outputs
    assert "pushed" in shared["push"].stdout
    lock = YAML(typ="safe").load(shared["project"] / "dvc.lock")
    outs = {o["path"]: o for o in lock["stages"]["pretrain"]["outs"]}
    # no checkpoint: nothing to miss
    assert set(outs) == {ENCODER, f"{LIVE}/params.yaml", f"{LIVE}/metrics.json", f"{LIVE}/plots/metrics"}
    md5 = outs[ENCODER]["md5"]
    assert (shared["remote"] / "files" / "md5" / md5[:2] / md5[2:]).is_file()  # the encoder is shared
    assert not (shared["project"] / STATE).parent.exists()  # a finished run leaves no checkpoint


@pytest.mark.slow
def test_clone_and_pull_reproduce_nothing(shared):
    project = shared["project"]
    clone = _clone(shared, "clone")
    # what a teammate types after a full pipeline was pushed is a plain `dvc pull`; here only the
    # stages up to pretrain ran, and a plain pull would fail on the unrun stages' cached outputs
    # (the evaluate/finetune classifiers), so pull what was pushed
    dvc("pull", "--with-deps", STAGE, "data.dvc", cwd=clone)
    for rel in ("data/raw/README.txt", "artifacts/ingested/joints.npy",
                "artifacts/ingested/index.parquet", "artifacts/processed/joints.npy",
                "artifacts/processed/motion.npy", ENCODER, f"{LIVE}/metrics.json", LOSS):
        assert (clone / rel).read_bytes() == (project / rel).read_bytes(), rel
    assert len(list((clone / "data/synthetic").glob("*.skeleton"))) == 4 * 2 * 3
    assert not (clone / STATE).parent.exists()
    mtime = (clone / ENCODER).stat().st_mtime_ns
    status = dvc("status", STAGE, cwd=clone)  # the stage and everything upstream of it
    assert "up to date" in status.stdout and "changed" not in status.stdout, status.stdout
    again = dvc("repro", STAGE, cwd=clone)
    out = again.stdout + again.stderr
    assert "Running stage" not in out, out
    for stage in ("synthesize", "ingest", "preprocess", "pretrain"):
        assert f"Stage '{stage}' didn't change, skipping" in out, out
    assert (clone / ENCODER).stat().st_mtime_ns == mtime  # nothing retrained or re-checked-out
    assert not (clone / STATE).parent.exists()


def _descendants(pid: int) -> list[int]:
    """Process ids below `pid` (Linux /proc), e.g. the stage command that `dvc repro` started."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the stage process in /proc")
def test_pretrain_killed_under_dvc_repro_resumes(shared):
    """A clone changes the epochs, `dvc repro` starts pretraining, the training process is killed
    (SIGKILL, as the OOM killer or a preempted node would) after a checkpoint; the next
    `dvc repro` resumes from it, finishes, deletes it, and leaves the pipeline up to date."""
    clone = _clone(shared, "crash")
    steps = len((clone / LOSS).read_text().splitlines()) - 1
    per_epoch = steps // TINY["methods"]["skeleton2vec"]["optim"]["epochs"]
    dvc("pull", "--with-deps", "preprocess", cwd=clone)
    yaml = YAML(typ="rt")
    params = yaml.load(clone / "params.yaml")
    epochs = 30  # long enough to be killed mid-run after the first checkpoint
    params["methods"]["skeleton2vec"]["optim"]["epochs"] = epochs
    yaml.dump(params, clone / "params.yaml")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dvc")), "repro", STAGE], cwd=clone,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (clone / STATE).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        stage = [p for p in _descendants(proc.pid) if "stages/pretrain.py" in _cmdline(p)]
        if not stage:
            proc.kill()
            pytest.fail(f"no pretrain process to kill:\n{proc.communicate()[0]}")
        for pid in stage:
            os.kill(pid, signal.SIGKILL)
        crashed = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, crashed
    assert not (clone / ENCODER).exists(), "the run finished before it was killed"
    done_before = torch.load(clone / STATE, weights_only=True)["epochs_done"]
    assert 1 <= done_before < epochs
    dvc("status", STAGE, cwd=clone)  # the killed run left DVC usable (no stale lock)
    resumed = dvc("repro", STAGE, cwd=clone)
    out = resumed.stdout + resumed.stderr
    assert "Running stage 'pretrain'" in out and "resuming after epoch" in out, out
    assert re.findall(r"resuming after epoch (\d+) ", out) == [str(done_before)], out
    # `dvc repro` deleted the killed run's live log before rerunning the stage; the resumed run
    # logged its checkpoint's steps again: every step once, in order
    history = (clone / LOSS).read_text().splitlines()
    assert [int(line.split("\t")[0]) for line in history[1:]] == list(range(epochs * per_epoch))
    assert json.loads((clone / LIVE / "metrics.json").read_text())["step"] == epochs * per_epoch - 1
    assert not (clone / STATE).parent.exists()  # finished: the checkpoint is gone
    status = dvc("status", STAGE, cwd=clone)
    assert "up to date" in status.stdout, status.stdout
