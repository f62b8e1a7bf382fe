"""Checkpoints and resume: a crashed or killed run, restarted, ends with the same weights as an
uninterrupted one (CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest
import torch
from ruamel.yaml import YAML

from helpers import LAYOUT, METHOD_NAMES, ROOT, default_params, tiny_method_params
from skelssl.errors import SkelsslError
from skelssl.io import load_encoder
from skelssl.methods import build_method
from skelssl.live import LiveLog
from skelssl.train import NOT_METRICS, STATE_FILE, pretrain


def _data(n=16, frames=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, frames, 25, 3, generator=gen), torch.rand(n, 2, frames, 25, generator=gen)


def _fresh_method(name="skeleton2vec"):
    torch.manual_seed(0)
    return build_method(name, tiny_method_params(name), LAYOUT, 8)


class Crash(RuntimeError):
    pass


def _train(state_dir, crash_at_step=None, name="skeleton2vec", live_dir=None, steps=None):
    """Train 4 epochs of 4 steps; `crash_at_step` raises inside that step; `steps` (a list) gets the
    number of every optimiser step this call runs."""
    method = _fresh_method(name)
    original = method.after_step

    def after_step(step, total):
        if step == crash_at_step:
            raise Crash
        if steps is not None:
            steps.append(step)
        return original(step, total)

    method.after_step = after_step
    optim = tiny_method_params(name).optim.model_copy(
        update={"epochs": 4, "batch_size": 4, "warmup_epochs": 1})
    run = default_params().pretrain.model_copy(update={"checkpoint_every": 1})
    x, motion = _data()
    live = None if live_dir is None else LiveLog(live_dir, "pretrain", {"method": name}, NOT_METRICS)
    history = pretrain(method, x, motion, optim, 3, torch.device("cpu"), run, state_dir, "fp", live=live)
    if live is not None:
        live.close()
    return method, history


def _live_files(results) -> dict[str, bytes]:
    """The live log's files (path → bytes) below a stage's results folder."""
    live = results / "live"
    return {str(p.relative_to(live)): p.read_bytes() for p in sorted(live.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, name):
    reference, ref_history = _train(tmp_path / "a", name=name)
    with pytest.raises(Crash):
        _train(tmp_path / "b", crash_at_step=10, name=name)  # inside epoch 3 (4 steps/epoch)
    state = torch.load(tmp_path / "b" / STATE_FILE, weights_only=True)
    assert state["epochs_done"] == 2
    steps: list[int] = []
    resumed, history = _train(tmp_path / "b", name=name, steps=steps)
    assert steps == list(range(9, 17))  # after_step(1..16): only epochs 3-4 ran; a restart would give 1..16
    assert [r["loss"] for r in history.rows] == [r["loss"] for r in ref_history.rows]
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def _tsv_steps(path) -> list[int]:
    return [int(line.split("\t")[0]) for line in path.read_text().splitlines()[1:]]


def test_resumed_run_continues_its_live_log(tmp_path):
    """The crashed run logged steps past its last checkpoint (epoch 2); the resumed one logs the
    checkpoint's steps again and continues: its log equals an uninterrupted run's, step for step,
    also when the log was deleted meanwhile (as `dvc repro` deletes a stage's outputs)."""
    _train(tmp_path / "a", live_dir=tmp_path / "ref")
    reference = _live_files(tmp_path / "ref")
    assert _tsv_steps(tmp_path / "ref/live/plots/metrics/loss.tsv") == list(range(16))
    for delete_log in (False, True):
        state, results = tmp_path / f"state-{delete_log}", tmp_path / f"run-{delete_log}"
        with pytest.raises(Crash):
            _train(state, crash_at_step=10, live_dir=results)
        assert _tsv_steps(results / "live/plots/metrics/loss.tsv") == list(range(9))  # live: up to the crash
        assert json.loads((results / "live/metrics.json").read_text())["step"] == 7  # synced each epoch
        if delete_log:
            for path in (results / "live").rglob("*.tsv"):
                path.unlink()
            (results / "live/metrics.json").unlink()
        steps: list[int] = []
        _train(state, live_dir=results, steps=steps)
        assert steps == list(range(9, 17))  # resumed after epoch 2, not restarted
        assert _live_files(results) == reference
    summary = json.loads(reference["metrics.json"])
    assert summary["step"] == 15
    assert {"loss", "grad_norm", "pred_var", "target_var"} <= set(summary)
    assert not set(summary) & set(NOT_METRICS)  # schedules, mask ratio, counts: plotted only
    assert {"lr.tsv", "ema_decay.tsv", "masked_pct.tsv"} <= {p.rsplit("/", 1)[-1] for p in reference}


def test_checkpoint_of_another_run_is_ignored(tmp_path):
    _train(tmp_path)
    method = _fresh_method()
    optim = default_params().methods.skeleton2vec.optim.model_copy(update={"epochs": 1, "batch_size": 4})
    x, motion = _data()
    history = pretrain(method, x, motion, optim, 3, torch.device("cpu"), default_params().pretrain,
                       tmp_path, "another-fingerprint")
    assert len(history.rows) == 4  # trained from scratch, one epoch


def _processed(folder, n=48, frames=8):
    folder.mkdir(parents=True)
    x, motion = _data(n, frames)
    np.save(folder / "joints.npy", x.numpy())
    np.save(folder / "motion.npy", motion.numpy())
    pl.DataFrame({"label": [i % 3 for i in range(n)], "xsub_train": [True] * n,
                  "xview_train": [True] * n}).write_parquet(folder / "index.parquet")
    (folder / "meta.json").write_text('{"source": "ntu", "layout": "ntu25", "persons": 2, "splits": ["xsub", "xview"]}')


def _params_file(tmp_path):
    data = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    data["pretrain"].update(checkpoint_every=1, threads=1)
    s2v = data["methods"]["skeleton2vec"]
    s2v["optim"].update(epochs=12, batch_size=4, warmup_epochs=1)
    s2v["backbone"].update(dim=32, depth=2, heads=2, t_patch=2)
    s2v["decoder"].update(dim=32, depth=1, heads=2)
    s2v["top_k"] = 2
    path = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(data, path)
    return path


def _pretrain_cmd(tmp_path, out):
    return [sys.executable, "-m", "skelssl", "pretrain", str(tmp_path / "processed"), str(out / "enc"),
            str(out / "hist"), str(out / "state"), "--params", str(tmp_path / "params.yaml")]


@pytest.mark.slow
def test_sigkill_then_restart_gives_identical_weights(tmp_path):
    _processed(tmp_path / "processed")
    _params_file(tmp_path)
    ref = subprocess.run(_pretrain_cmd(tmp_path, tmp_path / "ref"), capture_output=True, text=True,
                         timeout=300)
    assert ref.returncode == 0, ref.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_pretrain_cmd(tmp_path, killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "state" / STATE_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "enc" / "encoder.pt").exists(), "the run finished before it was killed"
    assert torch.load(killed / "state" / STATE_FILE, weights_only=True)["epochs_done"] < 12
    again = subprocess.run(_pretrain_cmd(tmp_path, killed), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming after epoch" in again.stderr
    a = load_encoder(tmp_path / "ref/enc/encoder.pt")["state_dict"]
    b = load_encoder(killed / "enc/encoder.pt")["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the live log continued from the checkpoint: the same as the uninterrupted run's
    assert _live_files(tmp_path / "ref/hist") == _live_files(killed / "hist")
    assert _tsv_steps(killed / "hist/live/plots/metrics/loss.tsv") == list(range(12 * 12))


# A state.pt that skelssl did not write (checkpoints are atomic, so it came from elsewhere) stops
# the run with one line naming the file, rather than being overwritten by a fresh start.
def _foreign_states():
    method = _fresh_method()
    return {
        "random bytes": lambda p: p.write_bytes(os.urandom(4096)),
        "empty file": lambda p: p.write_bytes(b""),
        "a tensor": lambda p: torch.save(torch.zeros(3), p),
        "an encoder file": lambda p: torch.save({"format": 1, "state_dict": {}, "meta": {}}, p),
        "missing keys": lambda p: torch.save({"fingerprint": "fp", "epochs_done": 2}, p),
        "wrong types": lambda p: torch.save({"fingerprint": "fp", "epochs_done": "2", "model": {},
                                             "optimizer": {}, "history": []}, p),
        "another model": lambda p: torch.save({"fingerprint": "fp", "epochs_done": 2,
                                               "model": {"w": torch.zeros(2)},
                                               "optimizer": {}, "history": []}, p),
        "pickled object": lambda p: torch.save({"fingerprint": "fp", "x": Crash()}, p),
        "right model, bad optimizer": lambda p: torch.save(
            {"fingerprint": "fp", "epochs_done": 2, "model": method.state_dict(),
             "optimizer": {"state": {}, "param_groups": []}, "history": []}, p),
    }


@pytest.mark.parametrize("kind", list(_foreign_states()))
def test_a_foreign_state_file_is_one_line_error(tmp_path, kind):
    path = tmp_path / STATE_FILE
    _foreign_states()[kind](path)
    before = path.read_bytes()
    with pytest.raises(SkelsslError) as err:
        _train(tmp_path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a skelssl pretraining checkpoint"), message
    assert "\n" not in message and "delete it" in message
    assert path.read_bytes() == before  # left for the user to inspect


def test_cli_reports_a_corrupt_state_in_one_line(tmp_path):
    _processed(tmp_path / "processed")
    _params_file(tmp_path)
    state = tmp_path / "out" / "state" / STATE_FILE
    state.parent.mkdir(parents=True)
    state.write_bytes(os.urandom(1000))
    done = subprocess.run(_pretrain_cmd(tmp_path, tmp_path / "out"), capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "1000"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [line for line in errors if line.startswith(f"error: {state}: not a skelssl")]
    assert len(errors) == 1, done.stderr


def test_a_finished_run_deletes_its_checkpoint(tmp_path):
    """The stage deletes its checkpoint once encoder and history are written: it exists only to
    resume an unfinished run (a kept one would let changed code "resume" at the last epoch)."""
    from skelssl.pipeline import pretrain as stage
    from skelssl.config import load_params

    _processed(tmp_path / "processed")
    path = _params_file(tmp_path)
    data = YAML(typ="safe", pure=True).load(path.read_text())
    data["methods"]["skeleton2vec"]["optim"]["epochs"] = 2
    YAML(typ="safe", pure=True).dump(data, path)
    params = load_params(path)
    state = tmp_path / "state"
    from skelssl.outputs import _host
    from skelssl.train import _make_state_dir

    _make_state_dir(state)  # created by an earlier run of the stage, killed while saving
    # left by that run (pid above any pid_max: that process is gone)
    (state / f".{STATE_FILE}.tmp-{_host()}-999999999-deadbeef").write_bytes(b"")
    stage.run(params, tmp_path / "processed", tmp_path / "enc", tmp_path / "hist", state)
    assert (tmp_path / "enc" / "encoder.pt").exists() and (tmp_path / "hist/live/metrics.json").exists()
    assert not state.exists()
    kept = tmp_path / "shared"
    (kept / "notes.txt").parent.mkdir()
    (kept / "notes.txt").write_text("not ours")
    stage.run(params, tmp_path / "processed", tmp_path / "enc", tmp_path / "hist", kept)
    assert (kept / "notes.txt").read_text() == "not ours" and not (kept / STATE_FILE).exists()
    empty = tmp_path / "users-empty-folder"  # given by the user: it stays, as it was
    empty.mkdir()
    stage.run(params, tmp_path / "processed", tmp_path / "enc", tmp_path / "hist", empty)
    assert empty.is_dir() and list(empty.iterdir()) == []
