"""A command that fails after writing some of its outputs leaves every output as it was.

`skelssl.outputs.all_or_nothing` (every stage and CLI command runs inside it): unit tests of what
it undoes and keeps, and end to end through the CLI: an `evaluate` whose second output folder
cannot be written, a stage that fails after claiming a user's folder, and a full disk.
"""

from __future__ import annotations

import contextlib
import json
import os

import pytest
from ruamel.yaml import YAML

from helpers import invoke_cli, one_error_line, tmpfs, tree_snapshot
from skelssl.io import write_json
from skelssl.outputs import (MARKER, after_success, all_or_nothing, atomic_dir, atomic_file, claim_output_dir,
                             kept_on_failure, marker_stage, set_aside_dir)
from tiny_eval import tiny_encoder, tiny_params, tiny_processed


class Boom(RuntimeError):
    pass


def _earlier_output(folder) -> dict:
    """An earlier output of `evaluate` in `folder`: its marker and two files."""
    claim_output_dir(folder, "evaluate", ["metrics.json"])
    write_json(folder / "metrics.json", {"top1": 1.0})
    (folder / "notes.txt").write_text("the user's notes")
    return tree_snapshot(folder)


def test_a_failure_puts_back_every_file_and_removes_the_new_ones(tmp_path):
    before = _earlier_output(tmp_path / "out")
    with pytest.raises(Boom), all_or_nothing():
        claim_output_dir(tmp_path / "out", "evaluate", ["metrics.json", "confusion.csv"])
        write_json(tmp_path / "out" / "metrics.json", {"top1": 2.0})
        write_json(tmp_path / "out" / "metrics.json", {"top1": 3.0})  # written twice: the first version back
        with atomic_file(tmp_path / "out" / "confusion.csv") as tmp:
            tmp.write_text("a,b\n")
        claim_output_dir(tmp_path / "new" / "model", "evaluate", ["probe.pt"])
        write_json(tmp_path / "new" / "model" / "probe.pt", {})
        raise Boom
    assert tree_snapshot(tmp_path / "out") == before
    assert not (tmp_path / "new").exists()  # created by the block: removed, its parent too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries or earlier versions left


def test_success_keeps_the_new_files_and_deletes_the_earlier_versions(tmp_path):
    _earlier_output(tmp_path / "out")
    with all_or_nothing():
        write_json(tmp_path / "out" / "metrics.json", {"top1": 2.0})
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == {"top1": 2.0}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MARKER, "metrics.json", "notes.txt"]


def test_a_marker_added_to_a_users_folder_is_taken_back(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(Boom), all_or_nothing():
        claim_output_dir(mine, "evaluate", ["metrics.json"])
        assert marker_stage(mine) == "evaluate"
        raise Boom
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Boom), all_or_nothing():
        claim_output_dir(empty, "robustness", ["metrics.json"])
        raise Boom
    assert empty.is_dir() and list(empty.iterdir()) == []


def test_a_marker_stays_where_the_failed_run_left_something_of_its_own(tmp_path):
    """A failed run's kept log (here: a file written outside the journal) keeps the folder's marker,
    so that the next run may replace it."""
    out = tmp_path / "out"
    with pytest.raises(Boom), all_or_nothing():
        claim_output_dir(out, "finetune", ["metrics.json"])
        with kept_on_failure():
            write_json(out / "log.json", {"step": 3})
        write_json(out / "metrics.json", {"top1": 1.0})
        raise Boom
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "log.json"]
    assert marker_stage(out) == "finetune"


def test_a_replaced_folder_comes_back(tmp_path):
    with atomic_dir(tmp_path / "ingested", "ingest") as tmp:
        (tmp / "joints.npy").write_bytes(b"old")
    before = tree_snapshot(tmp_path)
    with pytest.raises(Boom), all_or_nothing():
        with atomic_dir(tmp_path / "ingested", "ingest") as tmp:
            (tmp / "joints.npy").write_bytes(b"new")
        assert (tmp_path / "ingested" / "joints.npy").read_bytes() == b"new"
        raise Boom
    assert tree_snapshot(tmp_path) == before


def test_outside_a_block_each_write_is_final(tmp_path):
    """Library use (no command around it): nothing is journaled, an exception undoes nothing."""
    _earlier_output(tmp_path / "out")
    with pytest.raises(Boom):
        write_json(tmp_path / "out" / "metrics.json", {"top1": 2.0})
        raise Boom
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == {"top1": 2.0}


# ---------------------------------------------------------------------------- through the CLI


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A folder with tiny processed data, an encoder and params (a 2-epoch probe)."""
    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    YAML(typ="safe", pure=True).dump(params.model_dump(mode="json"), tmp_path / "params.yaml")
    tiny_processed(tmp_path / "processed")
    tiny_encoder(tmp_path / "encoder.pt", params)
    return tmp_path


def test_evaluate_that_cannot_write_its_model_leaves_the_earlier_results(tiny):
    """metrics.json and confusion.csv are written before probe.pt: when probe.pt cannot be written
    (a read-only disk), the results of the earlier run are back in place."""
    assert invoke_cli(["evaluate", "processed", "encoder.pt", "res"]).exit_code == 0
    before = tree_snapshot(tiny / "res")
    seed5 = (tiny / "params.yaml").read_text().replace("seed: 0", "seed: 5", 1)
    (tiny / "p5.yaml").write_text(seed5)
    with tmpfs(tiny / "ro", "ro,size=64k"):
        line = one_error_line(invoke_cli(["evaluate", "processed", "encoder.pt", "res", "ro/model",
                                        "--params", "p5.yaml"]))
        assert line.startswith("error: ro/model") and "Read-only file system" in line, line
    assert tree_snapshot(tiny / "res") == before
    new = tiny / "new"  # a first run: nothing of it is left
    with tmpfs(tiny / "ro2", "ro,size=64k"):
        one_error_line(invoke_cli(["evaluate", "processed", "encoder.pt", "new", "ro2/model"]))
    assert not new.exists()


def test_a_stage_refusing_its_params_leaves_no_marker_in_the_users_folder(tiny):
    mine = tiny / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (tiny / "bad.pt").write_bytes(b"junk")
    line = one_error_line(invoke_cli(["evaluate", "processed", "bad.pt", "mine"]))
    assert line.startswith("error: bad.pt"), line
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_a_full_disk_leaves_nothing_and_names_the_path(tiny):
    """The disk fills while the first output is written: one line naming it, no folder, no marker,
    and the same command runs once there is room."""
    with tmpfs(tiny / "small", "size=16k") as mount:
        (mount / "fill").write_bytes(b"\0" * (os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize))
        line = one_error_line(invoke_cli(["evaluate", "processed", "encoder.pt", "small/a/b/res"]))
        assert line.startswith("error: small/a/b/res") and "No space left on device" in line, line
        assert sorted(p.name for p in mount.iterdir()) == ["fill"]
        (mount / "fill").unlink()
        assert invoke_cli(["evaluate", "processed", "encoder.pt", "small/a/b/res"]).exit_code == 0
        assert marker_stage(mount / "a" / "b" / "res") == "evaluate"



def test_a_second_signal_does_not_stop_the_undo_halfway(tmp_path):
    """SIGINT arriving while the undo runs (a second Ctrl-C) waits until every change is undone."""
    import signal

    before = _earlier_output(tmp_path / "out")
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        with pytest.raises(Boom), all_or_nothing():
            write_json(tmp_path / "out" / "metrics.json", {"top1": 2.0})
            with atomic_dir(tmp_path / "new", "ingest") as tmp:
                (tmp / "a.npy").write_bytes(b"x")

            def interrupted_undo() -> None:  # the first undo to run: a signal arrives during the undo
                os.kill(os.getpid(), signal.SIGINT)
                assert received == []  # held: not delivered yet

            from skelssl import outputs

            outputs._on_failure(interrupted_undo)
            raise Boom
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == [signal.SIGINT]  # delivered once the undo was complete
    assert tree_snapshot(tmp_path / "out") == before and not (tmp_path / "new").exists()


def test_a_signal_while_the_earlier_versions_are_deleted_does_not_undo_success(tmp_path, caplog, monkeypatch):
    import logging
    import signal

    monkeypatch.setattr(logging.getLogger("skelssl"), "handlers", [])  # an earlier CLI run's stream is closed
    monkeypatch.setattr(logging.getLogger("skelssl"), "propagate", True)  # to caplog
    _earlier_output(tmp_path / "out")
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        with all_or_nothing():
            write_json(tmp_path / "out" / "metrics.json", {"top1": 2.0})
            after_success(lambda: os.kill(os.getpid(), signal.SIGINT))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == []  # consumed: the command had succeeded
    assert "SIGINT arrived while the finished command removed earlier versions" in caplog.text
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == {"top1": 2.0}
    assert not [p for p in (tmp_path / "out").iterdir() if ".old-" in p.name]


def test_after_success_runs_only_when_the_command_succeeds(tmp_path):
    done = []
    with pytest.raises(Boom), all_or_nothing():
        after_success(lambda: done.append("failed run"))
        raise Boom
    with all_or_nothing():
        after_success(lambda: done.append("run"))
        assert done == []  # not yet: at the end
    after_success(lambda: done.append("library use"))  # no command around it: at once
    assert done == ["run", "library use"]


def test_a_rewritten_folder_is_put_back_when_the_command_fails(tmp_path):
    """A live log (its writer clears the folder) of an earlier run comes back if the new run fails,
    and is replaced when it succeeds."""
    live = tmp_path / "res" / "live"
    live.mkdir(parents=True)
    (live / "metrics.json").write_text("earlier run")
    for fails in (True, False):
        with pytest.raises(Boom) if fails else contextlib.nullcontext(), all_or_nothing():
            set_aside_dir(live)
            live.mkdir()
            (live / "metrics.json").write_text("new run")
            if fails:
                raise Boom
        expected = "earlier run" if fails else "new run"
        assert (live / "metrics.json").read_text() == expected
        assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["live"]


def test_a_failed_pretraining_keeps_its_checkpoint_and_the_next_run_deletes_it(tiny):
    """The checkpoint is deleted only once the command succeeded (after its encoder is final)."""
    from skelssl.train import STATE_FILE

    data = YAML(typ="safe", pure=True).load((tiny / "params.yaml").read_text())
    data["pretrain"]["checkpoint_every"] = 1
    YAML(typ="safe", pure=True).dump(data, tiny / "params.yaml")
    from skelssl.pipeline import pretrain as stage

    original = stage.save_encoder

    def failing_save(*args, **kwargs):
        raise OSError(28, "No space left on device", "enc/encoder.pt")

    stage.save_encoder = failing_save
    try:
        one_error_line(invoke_cli(["pretrain", "processed", "enc", "hist", "state"]))
    finally:
        stage.save_encoder = original
    assert (tiny / "state" / STATE_FILE).is_file() and not (tiny / "enc").exists()
    assert invoke_cli(["pretrain", "processed", "enc", "hist", "state"]).exit_code == 0
    assert (tiny / "enc" / "encoder.pt").is_file() and not (tiny / "state").exists()
