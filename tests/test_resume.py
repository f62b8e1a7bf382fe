"""Checkpoints and resume: a crashed or killed run, restarted, ends with the same weights as an
uninterrupted one (CPU)."""

from __future__ import annotations

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
from skelssl.io import load_encoder
from skelssl.methods import build_method
from skelssl.train import STATE_FILE, pretrain


def _data(n=16, frames=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, frames, 25, 3, generator=gen), torch.rand(n, 2, frames, 25, generator=gen)


def _fresh_method(name="skeleton2vec"):
    torch.manual_seed(0)
    return build_method(name, tiny_method_params(name), LAYOUT, 8)


class Crash(RuntimeError):
    pass


def _train(state_dir, crash_at_step=None, name="skeleton2vec"):
    method = _fresh_method(name)
    if crash_at_step is not None:
        original = method.after_step

        def after_step(step, total):
            if step == crash_at_step:
                raise Crash
            return original(step, total)

        method.after_step = after_step
    optim = tiny_method_params(name).optim.model_copy(
        update={"epochs": 4, "batch_size": 4, "warmup_epochs": 1})
    run = default_params().pretrain.model_copy(update={"checkpoint_every": 1})
    x, motion = _data()
    history = pretrain(method, x, motion, optim, 3, torch.device("cpu"), run, state_dir, "fp")
    return method, history


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, name):
    reference, ref_history = _train(tmp_path / "a", name=name)
    with pytest.raises(Crash):
        _train(tmp_path / "b", crash_at_step=10, name=name)  # inside epoch 3 (4 steps/epoch)
    state = torch.load(tmp_path / "b" / STATE_FILE, weights_only=True)
    assert state["epochs_done"] == 2
    resumed, history = _train(tmp_path / "b", name=name)
    assert [r["loss"] for r in history.rows] == [r["loss"] for r in ref_history.rows]
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


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
    assert (tmp_path / "ref/hist/history.tsv").read_text() == (killed / "hist/history.tsv").read_text()
