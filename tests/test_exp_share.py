"""Sharing experiments (docs/team.md), in a temporary copy of the repository with tiny params: a bare
Git repository as the Git remote and a local folder as the DVC remote. Two real `dvc exp run`s
(seeds 1 and 2, up to the `evaluate` stage), `dvc exp push`; a fresh clone has no experiment and
`skelssl report --from exps` says what to do in one line; after `dvc exp pull` the clone lists both,
restores an experiment's encoder from the DVC remote, and builds the report: one row, mean ± std
over the two seeds, naming both experiments and their commits. Also runs docs/team.md's everyday
`dvc exp show` line and measures its width against the full table."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers import ROOT, copy_project, update_in_place
from skelssl.report.collect import parse_exp_show
from skelssl.report.group import group_rows

TINY = {"synthesize": {"classes": 4, "subjects": 4, "frames": {"min": 20, "max": 30}},
        "preprocess": {"frames": 8},
        "method": "skeleton2vec",
        "pretrain": {"device": "cpu", "threads": 1},
        "evaluate": {"linear": {"epochs": 2, "batch_size": 8}},
        "methods": {"skeleton2vec": {
            "optim": {"epochs": 1, "batch_size": 8, "warmup_epochs": 0},
            "backbone": {"dim": 16, "depth": 1, "heads": 2, "t_patch": 4},
            "decoder": {"dim": 16, "depth": 1, "heads": 2}, "top_k": 1}}}
STAGE = "evaluate"  # synthesize -> ingest -> preprocess -> pretrain -> evaluate
ENCODER = "artifacts/pretrain/encoder.pt"
GIT = ["git", "-c", "user.name=skelssl test", "-c", "user.email=test@example.invalid",
       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
EVERYDAY = re.compile(r"^dvc exp show --only-changed .*$", re.MULTILINE)


def _env() -> dict[str, str]:
    env = dict(os.environ)  # the stages run `python`: the one running the tests
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600, env=_env())
    assert not ok or done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def dvc(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    return run(str(Path(sys.executable).with_name("dvc")), *args, cwd=cwd, ok=ok)


def skelssl(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "skelssl", *args, cwd=cwd, ok=ok)



@pytest.fixture(scope="module")
def team(tmp_path_factory) -> dict[str, Path]:
    """A project with two experiments pushed to a Git remote and a DVC remote."""
    root = tmp_path_factory.mktemp("exp-share")
    project, origin, storage = root / "project", root / "origin.git", root / "storage"
    copy_project(project)
    yaml = YAML(typ="rt")
    params = yaml.load(project / "params.yaml")
    update_in_place(params, TINY)
    yaml.dump(params, project / "params.yaml")
    run(*GIT, "init", "-q", "--bare", str(origin), cwd=root)
    run(*GIT, "init", "-q", cwd=project)
    dvc("remote", "add", "-d", "team", str(storage), cwd=project)
    run(*GIT, "add", "-A", cwd=project)
    run(*GIT, "commit", "-q", "-m", "tiny project", cwd=project)
    run(*GIT, "remote", "add", "origin", str(origin), cwd=project)
    run(*GIT, "push", "-q", "origin", "main", cwd=project)
    for seed in (1, 2):
        dvc("exp", "run", STAGE, "-n", f"seed{seed}", "-S", f"base.seed={seed}", cwd=project)
    pushed = dvc("exp", "push", "origin", cwd=project)
    return {"root": root, "project": project, "origin": origin, "storage": storage, "push": pushed}


def _exp_rows(repo: Path) -> list:
    return parse_exp_show(json.loads(dvc("exp", "show", "--json", cwd=repo).stdout))


@pytest.mark.slow
def test_experiments_pushed_pulled_and_reported_in_a_fresh_clone(team):
    project, root = team["project"], team["root"]
    here = {r.name: r for r in _exp_rows(project)}
    assert sorted(here) == ["seed1", "seed2"]
    head = run("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    assert {r.baseline for r in here.values()} == {head}

    clone = root / "clone"
    run(*GIT, "clone", "-q", str(team["origin"]), str(clone), cwd=root)
    # a fresh clone has no experiment: one line that says what to do, nothing written
    failed = skelssl("report", "--from", "exps", "--out", "out", cwd=clone, ok=False)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 1 and len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: report: no finished DVC experiments") and "dvc exp pull" in lines[0]
    assert not (clone / "out").exists()

    dvc("exp", "pull", "origin", cwd=clone)
    pulled = {r.name: r for r in _exp_rows(clone)}
    assert sorted(pulled) == ["seed1", "seed2"]
    for name, row in pulled.items():  # the same experiments: commits, params and metrics
        assert (row.rev, row.baseline, row.metrics) == (here[name].rev, head, here[name].metrics)
        assert row.params["base.seed"] == int(name[-1])

    # the experiments' cached outputs came from the DVC remote: each one's encoder is in the clone's cache
    lock = YAML(typ="safe", pure=True)
    for name in ("seed1", "seed2"):
        stages = lock.load(run("git", "show", f"{pulled[name].rev}:dvc.lock", cwd=clone).stdout)["stages"]
        md5 = next(o["md5"] for o in stages["pretrain"]["outs"] if o["path"] == ENCODER)
        cached = clone / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        assert cached.is_file(), name
    assert cached.read_bytes() == (project / ENCODER).read_bytes()  # seed2: the project's last run

    skelssl("report", "--from", "exps", "--out", "out", cwd=clone)
    text = (clone / "out" / "report.md").read_text()
    groups = group_rows(list(pulled.values()))
    assert len(groups) == 1 and groups[0].n == 2
    a, b = pulled["seed1"].metrics["knn.top1"], pulled["seed2"].metrics["knn.top1"]
    mean, std = (a + b) / 2, abs(a - b) / math.sqrt(2)  # the sample std (n - 1) of two values
    assert f"| R1 | skeleton2vec | ntu xsub (embedded) | 2 | " in text
    assert f" | {mean:.1f} ± {std:.1f} | " in text  # kNN: mean ± std over the two seeds (one decimal)
    for name in ("seed1", "seed2"):
        seed = name[-1]
        assert f"experiment `{name}` (`{pulled[name].rev[:7]}`, run from commit `{head[:7]}`; seed {seed}," in text
    assert (clone / "out" / "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_everyday_exp_show_recipe_is_short(team):
    """docs/team.md's line, run as written (plus --csv), against the full `dvc exp show`."""
    line = EVERYDAY.findall((ROOT / "docs" / "team.md").read_text())
    assert len(line) == 1
    args = shlex.split(line[0])
    assert args[:3] == ["dvc", "exp", "show"]

    def header(*extra: str) -> list[str]:
        out = dvc(*args[1:3], *extra, "--csv", cwd=team["project"]).stdout
        return next(csv.reader(io.StringIO(out)))

    full = header()
    everyday = header(*args[3:])
    assert len(full) > 250  # every param of every method block, every metric, every dependency hash
    # only evaluate ran: its headline metrics, and the one param that differs between the experiments
    assert everyday == ["Experiment", "Created", "linear.top1", "knn.top1", "random_init.linear.top1",
                        "base.seed"]


@pytest.mark.slow
def test_seeds_of_commits_that_differ_only_in_docs_form_one_row(team):
    """A seed run after a docs-only commit: `--rev` takes both baselines, and the report averages
    the three seeds (same code); without `--rev`, HEAD's experiment alone. Runs last: it commits."""
    project = team["project"]
    first = run("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    (project / "docs" / "notes.md").write_text("a docs-only change\n")
    run(*GIT, "add", "docs/notes.md", cwd=project)
    run(*GIT, "commit", "-q", "-m", "docs", cwd=project)
    second = run("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    dvc("exp", "run", STAGE, "-n", "seed3", "-S", "base.seed=3", cwd=project)

    skelssl("report", "--from", "exps", "--out", "head", cwd=project)
    assert "| R1 | skeleton2vec | ntu xsub (embedded) | 1 | " in (project / "head" / "report.md").read_text()
    skelssl("report", "--from", "exps", "--rev", first, "--rev", second, "--out", "both", cwd=project)
    text = (project / "both" / "report.md").read_text()
    assert "| R1 | skeleton2vec | ntu xsub (embedded) | 3 | " in text and "| R2 |" not in text
    assert f"run from commit `{first[:7]}`; seed 1," in text and f"run from commit `{second[:7]}`; seed 3," in text
