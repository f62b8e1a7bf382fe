"""Report rows: one per experiment, from the workspace and/or from `dvc exp show --json`.

A row holds the experiment's name, its method / split / data source (params.yaml keys of
`spec.ROW_PARAMS`), its metrics flattened to dotted keys ("linear.top1", "semi.1%.top1_mean"), all
its params flattened the same way (for grouping seeds, `group`), and where it comes from: the
experiment's own commit (`rev`) and the commit it was run from (`baseline`); for the workspace row,
the checked-out commit and whether the working tree differs from it.

Facts followed (DVC 3.67.1, observed on a throwaway repository): `dvc exp show --json` prints a list
of baselines; each is {"rev", "name", "data", "error", "experiments"}, the first one with
rev "workspace". `data` = {"rev", "timestamp" (ISO, local time; null for the workspace), "params":
{file: {"data": {...}}}, "metrics": {path: {"data": {...}} or {"error": {"type", "msg"}}}, "deps",
"outs", "meta"}. `experiments` is null or a list of {"name", "executor", "revs": [rev entries shaped
like a baseline]}; `executor` is null for a plain `dvc exp run`, else {"state": "queued" | "running"
| "success" | "failed", ...}; a failed run has "error": {"msg": "Experiment run failed"} on its rev
(and may still show the baseline's metrics).

Choices of ours (*unverified*): `exps` rows are experiments only (not the baseline commits, not
the workspace); queued, running and failed experiments are skipped; with none left, `--from exps`
fails with one line that says how to get some (`dvc exp pull`, `--all-commits`); the workspace
row's timestamp is the newest mtime of its metrics files; with `--from both` the workspace row is
dropped when an experiment has the same method, data and metrics (a `dvc exp run` leaves its
results in the workspace); "latest per method" keeps, per (method, source, input, split), the
newest group of experiments that differ only in their seed (`group`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, get_args

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from skelssl.config import MethodName, Params, load_params
from skelssl.console import log
from skelssl.errors import SkelsslError
from skelssl.report.spec import EMBEDDED_INPUTS, METRIC_FILES, ROW_PARAMS

Scalar = float | int

ORIGINS = ("workspace", "exps", "both")
SKIPPED_STATES = frozenset({"queued", "running", "failed"})
DVC_TIMEOUT_S = 600


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    split: str
    source: str
    input: str
    metrics: dict[str, Scalar] = field(default_factory=dict)
    origin: str = "workspace"  # workspace | exp
    timestamp: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)  # flattened: {"base.seed": 1, ...}
    rev: str | None = field(default=None, compare=False)  # the experiment's commit (None: workspace)
    baseline: str | None = field(default=None, compare=False)  # the commit it ran from (workspace: HEAD)
    dirty: bool = field(default=False, compare=False)  # workspace only: the working tree differs from HEAD
    code: str | None = field(default=None, compare=False)  # `code_version` of `rev` (None: unknown)

    @property
    def embedded(self) -> bool:
        return self.input in EMBEDDED_INPUTS

    @property
    def data_label(self) -> str:
        label = f"{self.source} {self.split}"
        return f"{label} (embedded)" if self.embedded else label


# ---------------------------------------------------------------------------- flattening


def flatten(tree: Any, prefix: str = "") -> dict[str, Scalar]:
    """Numeric leaves of nested dicts as {"a.b.c": value}; lists, strings and booleans are dropped."""
    out: dict[str, Scalar] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool) and prefix:
        out[prefix] = tree
    return out


def flatten_params(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of nested dicts as {"a.b.c": value}; lists become JSON text (hashable, comparable)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten_params(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, list):
        return {prefix: json.dumps(tree)} if prefix else {}
    return {prefix: tree} if prefix else {}


def metrics_prefix(path: str) -> str:
    """Key prefix of a metrics file: from `spec.METRIC_FILES`; else, under `results/`, its folders
    below it joined by dots (`results/finetune/live/metrics.json` → "finetune.live", the live logs),
    else its folder's name."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if str(posix) in METRIC_FILES:
        return METRIC_FILES[str(posix)]
    if len(posix.parts) > 2 and posix.parts[0] == "results":
        return ".".join(posix.parts[1:-1])
    return posix.parent.name or posix.stem


def merge_metrics(files: dict[str, Any]) -> dict[str, Scalar]:
    """{metrics path: parsed JSON} → one flat dict; a key seen twice keeps its first value."""
    merged: dict[str, Scalar] = {}
    for path, data in files.items():
        for key, value in flatten(data, metrics_prefix(path)).items():
            if key in merged:
                log.warning("report: %s: key %s already read from another metrics file; ignored", path, key)
                continue
            merged[key] = value
    return merged


def _dotted(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _row_fields(params: dict[str, Any]) -> dict[str, str]:
    values = {name: _dotted(params, key) for name, key in ROW_PARAMS.items()}
    return {name: "?" if value is None else str(value) for name, value in values.items()}


# ---------------------------------------------------------------------------- workspace


def dvc_yaml_metrics(root: Path) -> list[str]:
    """Metrics paths declared in `root/dvc.yaml` (plain stages; templated paths are skipped)."""
    path = root / "dvc.yaml"
    if not path.is_file():
        return []
    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text())
    except YAMLError as exc:
        raise SkelsslError(f"{path}: invalid YAML ({exc.__class__.__name__})") from None
    found: list[str] = []
    stages = doc.get("stages") if isinstance(doc, dict) else None
    for stage in (stages.values() if isinstance(stages, dict) else []):
        for entry in (stage.get("metrics") or [] if isinstance(stage, dict) else []):
            for name in entry if isinstance(entry, dict) else [entry]:
                if isinstance(name, str) and "${" not in name:
                    found.append(name)
    return found


def workspace_metric_files(root: Path) -> list[str]:
    return list(dict.fromkeys([*METRIC_FILES, *dvc_yaml_metrics(root)]))


def read_metrics_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SkelsslError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_head(root: Path) -> tuple[str | None, bool]:
    """(checked-out commit, whether tracked files differ from it); (None, False) outside git."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return None, False
    status = _git(root, "status", "--porcelain", "--untracked-files=no") or ""
    return head.strip(), bool(status.strip())


def workspace_row(root: Path = Path("."), params: Params | None = None,
                  params_file: Path | None = None, git: bool = True) -> Row | None:
    """The workspace's row (None when no metrics file exists). `params` wins over `params_file`.
    `git`: record the checked-out commit (the DVC stage does not: its output would then depend on
    the commit, which is none of its dependencies)."""
    files = {name: root / name for name in workspace_metric_files(root)}
    present = {name: path for name, path in files.items() if path.is_file()}
    if not present:
        return None
    if params is None:
        params = load_params(params_file if params_file is not None else root / "params.yaml")
    metrics = merge_metrics({name: read_metrics_file(path) for name, path in present.items()})
    newest = max(path.stat().st_mtime for path in present.values())
    tree = params.model_dump()
    head, dirty = git_head(root) if git else (None, False)
    return Row(name="workspace", **_row_fields(tree), metrics=metrics, origin="workspace",
               timestamp=datetime.fromtimestamp(newest), params=flatten_params(tree), baseline=head,
               dirty=dirty)


# ---------------------------------------------------------------------------- code versions

# What decides an experiment's results besides its params: what DVC itself compares to decide
# whether a stage must re-run, i.e. the dependencies recorded in the experiment's `dvc.lock` (code
# and input data; not the outputs of other stages, which follow from them), less those of the
# stages that only read results (`report`), plus the pinned libraries (`LIBRARY_FILES`).
RESULT_FREE_STAGES: tuple[str, ...] = ("report",)
LIBRARY_FILES: tuple[str, ...] = ("pyproject.toml", "constraints.txt")


def code_version(root: Path, commit: str) -> str | None:
    """What `commit` ran, as one string: every `dvc.lock` dependency (path and hash) that no stage
    produces, over the stages other than `RESULT_FREE_STAGES`, and the git objects of
    `LIBRARY_FILES`. None outside git, for an unknown commit or one without a readable dvc.lock.
    Commits that differ only in what no stage depends on (tests, docs, benchmarks, the CLI, the
    report's code) share it."""
    text = _git(root, "show", f"{commit}:dvc.lock")
    if text is None:
        return None
    try:
        stages = (YAML(typ="safe", pure=True).load(text) or {}).get("stages")
    except (YAMLError, AttributeError):
        return None
    if not isinstance(stages, dict):
        return None
    produced = {out.get("path") for stage in stages.values() for out in stage.get("outs") or []}
    inputs = {f"{dep.get('path')} {dep.get('md5') or dep.get('hash')}"
              for name, stage in stages.items() if name not in RESULT_FREE_STAGES
              for dep in stage.get("deps") or []
              if not any(dep.get("path") == out or str(dep.get("path")).startswith(f"{out}/")
                         for out in produced)}
    libraries = _git(root, "ls-tree", commit, "--", *LIBRARY_FILES) or ""
    return "\n".join([*sorted(inputs), libraries.strip()]) if inputs else None


def with_code_versions(rows: list[Row], root: Path) -> list[Row]:
    """Experiment rows with `code` set from their own commit: the code that ran (DVC commits the
    workspace's uncommitted changes with the experiment), else from the commit they ran from. The
    workspace row is left as is: its files may differ from any commit."""
    known: dict[str, str | None] = {}

    def version(row: Row) -> str | None:
        for commit in (row.rev, row.baseline):
            if commit and commit not in known:
                known[commit] = code_version(root, commit)
            if commit and known[commit]:
                return known[commit]
        return None

    return [replace(r, code=version(r)) if r.origin == "exp" else r for r in rows]


# ---------------------------------------------------------------------------- dvc exp show


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _rev_row(rev: dict[str, Any], fallback: str, baseline: str | None = None) -> Row | None:
    if rev.get("error"):
        return None
    data = rev.get("data") or {}
    files = {path: entry["data"] for path, entry in (data.get("metrics") or {}).items()
             if isinstance(entry, dict) and "data" in entry}
    metrics = merge_metrics(files)
    if not metrics:
        return None
    params: dict[str, Any] = {}
    for entry in (data.get("params") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            params = {**entry["data"], **params}  # first file (params.yaml) wins
    name = rev.get("name") or fallback
    sha = rev.get("rev")
    return Row(name=name, **_row_fields(params), metrics=metrics, origin="exp",
               timestamp=_timestamp(data.get("timestamp")), params=flatten_params(params),
               rev=sha if isinstance(sha, str) else None, baseline=baseline)


def parse_exp_show(data: Any) -> list[Row]:
    """Rows of the experiments in `dvc exp show --json` output (see the module docstring)."""
    if not isinstance(data, list):
        raise SkelsslError("dvc exp show --json: expected a list of baselines")
    rows: list[Row] = []
    for baseline in data:
        if not isinstance(baseline, dict):
            continue
        commit = baseline.get("rev") if isinstance(baseline.get("rev"), str) else None
        for exp in baseline.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state")
            if state in SKIPPED_STATES:
                continue
            for rev in exp.get("revs") or []:
                row = _rev_row(rev, exp.get("name") or str(rev.get("rev", "?"))[:7], commit)
                if row is not None:
                    rows.append(row)
    return rows


def dvc_exp_show(root: Path = Path("."), all_commits: bool = False, revs: Sequence[str] = ()) -> Any:
    """Run `dvc exp show --json` (this interpreter's dvc) in `root` and parse its output; `revs`:
    the baseline commits whose experiments to show (`--rev`, repeated; default HEAD)."""
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["--all-commits"] if all_commits else []),
           *(arg for rev in revs for arg in ("--rev", rev))]
    try:
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=DVC_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SkelsslError(f"dvc exp show: no answer in {DVC_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise SkelsslError(f"dvc exp show failed: {lines[-1] if lines else f'exit code {done.returncode}'}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise SkelsslError(f"dvc exp show --json: unreadable output ({exc.msg})") from None


# ---------------------------------------------------------------------------- selection


def _method_rank(method: str) -> int:
    order = get_args(MethodName)
    return order.index(method) if method in order else len(order)


def sort_rows(rows: list[Row]) -> list[Row]:
    """Methods in params order (unknown ones last), then workspace first, then oldest first."""
    return sorted(rows, key=lambda r: (_method_rank(r.method), r.method, r.origin != "workspace",
                                       r.timestamp or datetime.min, r.name))


def latest_per_method(rows: list[Row]) -> list[Row]:
    """The rows of the newest report row (`group.group_rows`: the experiments that differ only in
    their seed) per (method, source, input, split); a group's time is its newest experiment's, and
    a row without a timestamp is oldest."""
    from skelssl.report.group import group_rows

    best: dict[tuple[str, str, str, str], Any] = {}
    for group in group_rows(rows):
        key = (group.method, group.source, group.input, group.split)
        if key not in best or (group.timestamp or datetime.min) > (best[key].timestamp or datetime.min):
            best[key] = group
    kept = {id(row) for group in best.values() for row in group.rows}
    return [row for row in rows if id(row) in kept]


def _same_run(a: Row, b: Row) -> bool:
    """Same method, data and metrics (params, revisions and names are not compared)."""
    return replace(a, name="", origin="", timestamp=None) == replace(b, name="", origin="", timestamp=None)


NO_EXPERIMENTS = ("report: no finished DVC experiments here (a fresh clone has none: fetch them with "
                  "`dvc exp pull <git remote>`; add --all-commits for experiments of other commits)")


def collect(origin: str = "both", root: Path = Path("."), params: Params | None = None,
            params_file: Path | None = None, latest: bool = False, all_commits: bool = False,
            git: bool = True, revs: Sequence[str] = ()) -> list[Row]:
    """Rows from the workspace, the DVC experiments (of `revs`' baselines, default HEAD; all commits'
    with `all_commits`), or both; raise when there is none. The workspace's params: `params`, else
    `params_file`, else `root/params.yaml`."""
    if origin not in ORIGINS:
        raise SkelsslError(f"report: --from must be one of {', '.join(ORIGINS)}, got {origin!r}")
    rows: list[Row] = []
    if origin in ("exps", "both"):
        rows += parse_exp_show(dvc_exp_show(root, all_commits, revs))
        if git:
            rows = with_code_versions(rows, root)
    if origin in ("workspace", "both"):
        ws = workspace_row(root, params, params_file, git)
        if ws is not None and not any(_same_run(ws, row) for row in rows):
            rows.insert(0, ws)
    if not rows and origin == "exps":
        raise SkelsslError(NO_EXPERIMENTS)
    if not rows:
        looked = []
        if origin != "exps":
            looked.append(f"workspace files {', '.join(workspace_metric_files(root))}")
        if origin != "workspace":
            looked.append("finished DVC experiments (dvc exp show; a fresh clone has none: `dvc exp pull`)")
        raise SkelsslError(f"report: no metrics found (looked in {' and '.join(looked)})")
    if latest:
        rows = latest_per_method(rows)
    return sort_rows(rows)
