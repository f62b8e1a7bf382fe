"""Sharing data and results through a DVC remote (README "Sharing data and checkpoints with your
team"), in a temporary copy of the repository with a local-folder remote: `dvc add data/raw`,
`dvc remote add -d`, `dvc repro`, `dvc push`; then a fresh `git clone`, `dvc pull`, and the
pulled stages are up to date (`dvc status`, `dvc repro` runs nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers import copy_project

TINY = {"synthesize": {"classes": 4, "subjects": 2, "frames": {"min": 20, "max": 30}},
        "preprocess": {"frames": 8}}
STAGE = "preprocess"  # synthesize -> ingest -> preprocess: the data stages, seconds with TINY
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
    for key, value in TINY.items():
        params[key].update(value)
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


@pytest.mark.slow
def test_push_fills_the_remote(shared):
    cached = [p for p in shared["remote"].rglob("*") if p.is_file()]
    assert len(cached) > 10  # raw data, the synthesized files, the ingest and preprocess outputs
    assert "pushed" in shared["push"].stdout


@pytest.mark.slow
def test_clone_and_pull_reproduce_nothing(shared):
    project = shared["project"]
    clone = shared["root"] / "clone"
    run(*GIT, "clone", "-q", str(project), str(clone), cwd=shared["root"])
    assert not (clone / "artifacts").exists()  # outputs live in the remote, not in git
    dvc("pull", "--with-deps", STAGE, "data.dvc", cwd=clone)  # only these stages ran here
    for rel in ("data/raw/README.txt", "artifacts/ingested/joints.npy",
                "artifacts/ingested/index.parquet", "artifacts/processed/joints.npy",
                "artifacts/processed/motion.npy"):
        assert (clone / rel).read_bytes() == (project / rel).read_bytes(), rel
    assert len(list((clone / "data/synthetic").glob("*.skeleton"))) == 4 * 2 * 3
    status = dvc("status", STAGE, cwd=clone)
    assert "up to date" in status.stdout, status.stdout
    again = dvc("repro", STAGE, cwd=clone)
    assert "Running stage" not in again.stdout, again.stdout
