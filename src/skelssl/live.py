"""Live logging of the training stages (`pretrain`, `finetune`, `semi`) with dvclive.

Each of these stages logs into `live/` inside its results folder while it runs, so `dvc exp show`,
`dvc plots show` and DVC's VS Code view follow a long run as it goes:

    results/<stage>/live/metrics.json     latest values + "step" (dvc.yaml: metrics, cache: false)
    results/<stage>/live/params.yaml      the run's settings and facts (sample counts, steps per
                                          epoch): not metrics (dvc.yaml: plain outs, cache: false)
    results/pretrain/live/plots/metrics/<name>.tsv        one (step, value) file per logged series
    results/{finetune,semi}/live/plots/custom/<name>.json long (epoch, series, value) tables, one
                                          line per run in the `series` plot template

*Live, not atomic.* Unlike a stage's final outputs (written atomically at the end), the log is
written while the stage runs: it is a log, and DVC records it in dvc.lock only when the stage
succeeds. A failed or killed run leaves its log as far as it got; the stage's final outputs
(encoder, `metrics.json` of finetune and semi, classifier) are still all-or-nothing.

*Ownership.* `live/` belongs to the stage whose `.skelssl-output` marker its parent folder
carries (`check_live_dir`): dvclive clears its own files there (metrics.json, params.yaml,
plots/metrics, plots/custom, ...) when a run starts, so a `live/` folder holding anything in a
results folder that is not the stage's own is refused, as any other output would be.

*Resume.* A resumed pretraining restores its step history from the checkpoint and logs it again
(`LiveLog.log` with the restored steps) before it continues: `dvc repro` deletes a stage's
declared outputs, the live log included, before it reruns the stage, and steps logged after the
last checkpoint are redone; so the log of a resumed run equals an uninterrupted run's, step for
step, whether it was started by `dvc repro` or by hand.

*Atomic files.* metrics.json and the long tables, rewritten whole while DVC or VS Code may read
them, are written atomically (`skelssl.outputs.atomic_file`); the .tsv series grow by appended
rows (dvclive's format: `step`, then the value).

*Side effects switched off.* `save_dvc_exp=False` (a stage never creates experiments: `dvc exp
run` does), `dvcyaml=None` (the stages' metrics and plots are declared in the project's dvc.yaml;
dvclive never edits it), `report=None`, no system monitor. dvclive opens the DVC repository only
when DVC runs the stage (`DVC_ROOT` set by `dvc repro` / `dvc exp run`): outside DVC it would look
for one around the working directory and, in a Git repository without DVC, run `dvc init` there.
Should opening it fail (dvclive 3.49 raises in a Git repository without a commit), the stage
logs to files only. Inside DVC, `sync` also marks the step done for the VS Code extension
(`.dvc/tmp/exps/run/`). Studio: dvclive posts live updates only when the run is under DVC and a
Studio token is configured (`dvc studio login`, `DVC_STUDIO_TOKEN`); `DVC_STUDIO_OFFLINE=true` or
`dvc config studio.offline true` turns that off; nothing is sent otherwise.

dvclive's private `_init_dvc` / `_init_studio` are overridden for this (pyproject pins dvclive 3.x).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from skelssl.console import log
from skelssl.outputs import (OutputError, atomic_file, kept_on_failure, marker_stage, remove_stale_temporaries,
                             set_aside_dir, write_marker)

LIVE = "live"  # the live log's folder inside a stage's results folder


def inside_dvc() -> bool:
    """Whether DVC runs this process (`dvc repro`, `dvc exp run` set DVC_ROOT to the repository)."""
    root = os.environ.get("DVC_ROOT")
    return bool(root) and os.path.isdir(os.path.join(root, ".dvc"))


def check_live_dir(out_dir: Path, stage: str) -> Path:
    """`out_dir/live`, after checking that `stage` may write its live log there: no such path, an
    empty folder, or a folder inside a results folder whose marker names `stage`. Call it before
    `claim_output_dir(out_dir, ...)`, which marks an unmarked folder as the stage's."""
    live = Path(out_dir) / LIVE
    if os.path.lexists(live) and (live.is_symlink() or not live.is_dir()):
        raise OutputError(f"{live}: exists and is not a folder; refusing to write the live log of "
                          f"`skelssl {stage}` there")
    if live.is_dir() and any(live.iterdir()) and marker_stage(Path(out_dir)) != stage:
        raise OutputError(f"{live}: exists and {out_dir} was not written by `skelssl {stage}` "
                          "(no .skelssl-output marker); refusing to replace it (remove it yourself "
                          "or choose another folder)")
    return live


def _plain(value: Any) -> Any:
    """`value` with tuples as lists and paths as strings (what dvclive's params.yaml holds)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _write_json(path: Path, data: Any) -> None:
    """JSON as dvclive writes it (indent 4), atomically: DVC and VS Code read the file while the
    stage rewrites it, and must never see half of it. Kept when the stage fails: the log of a
    failed run is what its user reads next, and a resumed run continues it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with kept_on_failure(), atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


class LiveLog:
    """One stage's live log: a dvclive `Live` in `out_dir/live`, with the settings above.

    `not_in_summary`: names logged as plotted series only, kept out of metrics.json (learning-rate
    and other schedules, mask ratios, sample counts: not results). Construct it after the stage
    claimed `out_dir`; the folder and dvclive's files appear with the first thing logged, so a
    stage that fails before training leaves no log."""

    def __init__(self, out_dir: Path, stage: str, params: Mapping[str, Any],
                 not_in_summary: Iterable[str] = ()) -> None:
        self.out_dir, self.stage = Path(out_dir), stage
        self.folder = check_live_dir(self.out_dir, stage)
        self._params = _plain(params)
        self._not_in_summary = frozenset(not_in_summary)
        self._opened: Any = None

    @property
    def _live(self) -> Any:
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    def _open(self) -> Any:
        from dvclive import Live

        class _StageLive(Live):
            """dvclive's Live, opening DVC's repository only under DVC (see the module docstring:
            outside it dvclive may `dvc init` one), and logging to files only when that fails
            (dvclive 3.49 raises in a Git repository without commits) or there is none: no
            experiment tracking and no Studio then."""

            def _init_dvc(self) -> None:
                if not inside_dvc():
                    return
                try:
                    super()._init_dvc()
                except Exception as exc:  # noqa: BLE001 - any failure: log to files only
                    log.warning("live log: DVC integration off (%s: %s)", type(exc).__name__,
                                " ".join(str(exc).split())[:200])
                    self._dvc_repo = None
                    self._inside_dvc_exp = False

            def _init_studio(self) -> None:
                if self._dvc_repo is None:
                    self._studio_events_to_skip.update(("start", "data", "done"))
                    return
                super()._init_studio()

            def make_summary(self) -> None:  # dvclive's format, written atomically
                if self._step is not None:
                    self.summary["step"] = self.step
                _write_json(Path(self.metrics_file), self.summary)

        folder = check_live_dir(self.out_dir, self.stage)  # again: the first log may come later
        if not self.out_dir.is_dir():  # claimed but not created yet: created with the stage's marker
            self.out_dir.mkdir(parents=True)
            write_marker(self.out_dir, self.stage)
        for sub in (folder, folder / "plots" / "custom"):  # temporaries of a run killed mid-write
            if sub.is_dir():
                names = {p.name[1:].split(".tmp-")[0] for p in sub.iterdir() if ".tmp-" in p.name}
                remove_stale_temporaries(sub, names)
        set_aside_dir(folder)  # dvclive clears it: an earlier run's log comes back if this run fails
        live = _StageLive(dir=str(folder), resume=False, report=None, save_dvc_exp=False,
                          dvcyaml=None, monitor_system=False)
        live.log_params(self._params)
        return live

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Add to params.yaml."""
        self._live.log_params(_plain(params))

    def log(self, step: int, values: Mapping[str, float], plot: bool = True) -> None:
        """Log `values` at `step` (one row per name in plots/metrics/<name>.tsv when `plot`);
        metrics.json follows at the next `sync`."""
        self._live.step = step
        for name, value in values.items():
            self._live.log_metric(name, float(value), plot=plot)
        for name in self._not_in_summary.intersection(self._live.summary):
            del self._live.summary[name]

    def log_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """(Re)write the long table plots/custom/<name>.json (dvc.yaml draws it): where and as
        dvclive's `log_plot` writes it (and clears it when a run starts), but atomically."""
        _write_json(Path(self._live.plots_dir) / "custom" / f"{name}.json", rows)

    def sync(self) -> None:
        """Write metrics.json now; under DVC also signal the step to VS Code (and to Studio when
        one is configured)."""
        if inside_dvc():
            self._live.next_step()  # steps are set explicitly in `log`; its increment is unused
        else:
            self._live.make_summary()

    def close(self) -> None:
        """Final sync once the stage's outputs are written."""
        if inside_dvc():
            self._live.end()
        else:
            self._live.make_summary()
