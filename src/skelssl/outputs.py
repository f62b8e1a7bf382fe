"""Safe outputs: a stage writes only where it may, and replaces only what it wrote before.

Rules (every stage and command goes through them):

- **Where**: an output may not be, or contain, an input, the working directory or any of their
  parents, and may not lie inside an input (`check_output_path`). `skelssl ingest raw .` is refused
  before anything is read.
- **Ownership**: every output folder carries a marker file, `.skelssl-output`, naming the stage
  that wrote it. An existing output is replaced only when its marker names the same stage; an
  empty folder may be reused; anything else (a user's folder, a file where a folder is expected, a
  folder of another stage) is refused with one line, and nothing is touched.
- **Atomic**: a whole-folder output is built in a temporary sibling and swapped in by two renames
  (`atomic_dir`); a file is written to a temporary sibling and renamed (`atomic_file`). A failing
  or interrupted stage (SIGINT, SIGTERM: see `skelssl.runner`) removes its temporary and leaves
  the earlier output in place.
- **All or nothing**: a command (every stage and CLI command runs inside `all_or_nothing`, see
  `skelssl.runner.guarded`) that fails after writing some of its outputs puts every earlier
  version back, removes the new files and the folders it created, and takes back the markers it
  added to existing folders: each output is left as it was before the command.
- **Leftovers**: temporaries are named `.<name>.tmp-<host>-<pid>-<token>`; a stage removes the
  ones of its output whose process on this host is gone (after `kill -9`), and never others.
- **Permissions**: folders are created with mode 0777 and files with 0666, less the umask, like
  any file a user creates (tempfile's private 0700 / 0600 is not used).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from skelssl.errors import SkelsslError

MARKER = ".skelssl-output"


class OutputError(SkelsslError):
    """An output path that the stage may not write or replace."""


# ---------------------------------------------------------------------------- where


def _absolute(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_output_path(out: Path, inputs: Iterable[Path] = ()) -> None:
    """Refuse an output that is, or contains, an input, the working directory or a parent of
    either, or that lies inside an input."""
    if Path(out).name == "..":
        raise OutputError(f"{out}: the output must end in a folder or file name, not '..'")
    target = _absolute(out)
    cwd = _absolute(Path.cwd())
    if target == cwd or target in cwd.parents:
        raise OutputError(f"{out}: the output may not be the working directory or one of its parents")
    for source in inputs:
        src = _absolute(source)
        if target == src:
            raise OutputError(f"{out}: the output may not be the input {source}")
        if target in src.parents:
            raise OutputError(f"{out}: the output may not contain the input {source}")
        if src in target.parents:
            raise OutputError(f"{out}: the output may not lie inside the input {source}")


# ---------------------------------------------------------------------------- ownership


def marker_stage(folder: Path) -> str | None:
    """The stage named by `folder`'s marker, or None (no marker, unreadable or foreign)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stage = data.get("stage") if isinstance(data, dict) else None
    return stage if isinstance(stage, str) else None


def write_marker(folder: Path, stage: str) -> None:
    """Create `folder`'s marker; a failed write (a full disk) leaves no partial marker behind and
    names the marker's path."""
    path = folder / MARKER
    try:
        _write_new(path, (json.dumps({"stage": stage, "by": "skelssl"}) + "\n").encode())
    except FileExistsError:
        raise
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def check_replaceable_dir(final: Path, stage: str) -> None:
    """`final` may be replaced by a new output of `stage`: it does not exist, is an empty folder,
    or is a folder whose marker names `stage`."""
    if not os.path.lexists(final):
        return
    if final.is_symlink() or not final.is_dir():
        raise OutputError(f"{final}: exists and is not a folder written by `skelssl {stage}`; "
                          "refusing to replace it (remove it yourself or choose another path)")
    if _is_empty_dir(final):
        return
    owner = marker_stage(final)
    if owner != stage:
        who = f"by `skelssl {owner}`" if owner else "by this stage (no .skelssl-output marker)"
        raise OutputError(f"{final}: exists and was not written {who}; refusing to replace it "
                          "(remove it yourself or choose another path)")


def check_dir_output(final: Path, stage: str, inputs: Iterable[Path] = ()) -> None:
    """Fail fast, before any work, when `atomic_dir(final, stage, inputs)` would refuse."""
    check_output_path(final, inputs)
    check_replaceable_dir(Path(final), stage)


def claim_output_dir(folder: Path, stage: str, files: Iterable[str], inputs: Iterable[Path] = ()) -> Path:
    """Make `folder` the output folder of `stage`, which writes `files` into it.

    A missing folder is created, with the marker, when the stage writes its first file there
    (`atomic_file`), so a stage that fails earlier leaves nothing. An existing folder is accepted when its
    marker names `stage`, or when none of `files` exists in it (nothing would be overwritten: the
    marker is then added, and taken back if the command fails: `all_or_nothing`). Anything else is
    refused, as is a path where a file is expected to be replaced but is not a regular file.
    """
    folder = Path(folder)
    check_output_path(folder, inputs)
    if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
        raise OutputError(f"{folder}: exists and is not a folder; refusing to write `skelssl {stage}` "
                          "outputs there")
    owner = marker_stage(folder) if folder.is_dir() else None
    for name in files:
        path = folder / name
        if not os.path.lexists(path):
            continue
        if path.is_symlink() or not path.is_file():
            raise OutputError(f"{path}: exists and is not a regular file; refusing to replace it")
        if owner != stage:
            raise OutputError(f"{path}: exists and {folder} was not written by `skelssl {stage}` "
                              "(no .skelssl-output marker); refusing to overwrite it (remove it "
                              "yourself or choose another folder)")
    if owner != stage and os.path.lexists(folder / MARKER):
        whose = f"belongs to `skelssl {owner}`" if owner else "is not a readable skelssl marker"
        raise OutputError(f"{folder / MARKER}: {whose}; refusing to replace it")
    if folder.is_dir():
        remove_stale_temporaries(folder, files)
        if owner != stage:
            before = set(os.listdir(folder))
            write_marker(folder, stage)
            _on_failure(lambda: _take_back_marker(folder, before))
    else:  # created, with its marker, by the first atomic_file into it: a stage that fails
        _PENDING[_absolute(folder)] = stage  # before writing anything leaves no empty folder
    return folder


_PENDING: dict[Path, str] = {}  # claimed output folders not created yet → their stage


def _create_parent(final: Path) -> list[Path]:
    """Create `final`'s folder; with its stage's marker when it is a claimed output folder. The
    folders created (none when a claimed folder gets its marker: it stays as the stage's output)."""
    parent = final.parent
    if parent.is_dir():
        return []
    stage = _PENDING.pop(_absolute(parent), None)
    created = _mkdirs(parent)
    if stage is not None:
        try:
            write_marker(parent, stage)
        except OSError:
            _remove_created(created)
            raise

        def uncreate() -> None:  # the folder holds only its marker: the command wrote nothing else
            if _take_back_marker(parent, set()):
                _remove_created(created)

        _on_failure(uncreate)
        return []
    return created


# ---------------------------------------------------------------------------- temporaries


def _host() -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in socket.gethostname()) or "host"


def _temp_name(final: Path, kind: str) -> Path:
    return final.parent / f".{final.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(path: Path, name: str) -> bool:
    """`path` is a temporary of output `name` left by a process of this host that is gone."""
    for kind in ("tmp", "old"):
        prefix = f".{name}.{kind}-{_host()}-"
        if path.name.startswith(prefix):
            pid, _, token = path.name[len(prefix):].partition("-")
            return pid.isdigit() and len(token) == 8 and not _pid_alive(int(pid))
    return False


def remove_stale_temporaries(parent: Path, names: Iterable[str], stage: str | None = None) -> list[Path]:
    """Remove the temporaries of outputs `names` in `parent` that a dead run left behind.

    A folder is removed only when it carries a marker (of `stage`, when given); a file only when
    its name has the exact temporary pattern. Returns what was removed.
    """
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    wanted = set(names)
    for path in parent.iterdir():
        if not path.name.startswith(".") or not any(_stale(path, name) for name in wanted):
            continue
        if path.is_dir() and not path.is_symlink():
            owner = marker_stage(path)
            if owner is None or (stage is not None and owner != stage):
                continue
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _mkdirs(folder: Path) -> list[Path]:
    """Create `folder` and its parents (mode 0777 less the umask); the folders it created, the
    outermost first (so a failed stage can remove them again: `_remove_created`)."""
    missing = []
    for path in (folder, *folder.parents):
        if os.path.lexists(path):
            break
        missing.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _remove_created(created: list[Path]) -> None:
    """Remove the folders `_mkdirs` created, innermost first, where they are still empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


# ---------------------------------------------------------------------------- all or nothing


class _Journal:
    """What a command changed: how to undo each change (on failure) and what to delete once it
    succeeded (the earlier versions kept until then)."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], object]] = []
        self.finish: list[Callable[[], object]] = []


_JOURNAL: _Journal | None = None


def _on_failure(undo: Callable[[], object]) -> None:
    if _JOURNAL is not None:
        _JOURNAL.undo.append(undo)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Run a command's block so that it changes its outputs completely or not at all.

    Inside the block, a file or folder that `atomic_file` / `atomic_dir` replaces keeps its earlier
    version (a hard link, or the renamed folder) until the block ends. On success the earlier
    versions are deleted. On any exception (errors, SIGINT/SIGTERM turned into exceptions) the
    changes are undone, the last first: new files and folders removed, earlier versions put back,
    a marker added to an existing folder removed again when nothing else of the block is left in
    it, folders the block created removed when empty; then the exception goes on. Nested blocks
    belong to the outermost. A `kill -9` cannot be undone: the outputs written so far stay, and
    the earlier versions become temporaries that the next run removes.
    """
    global _JOURNAL
    if _JOURNAL is not None:
        yield
        return
    journal = _JOURNAL = _Journal()
    try:
        yield
    except BaseException:
        _JOURNAL = None
        with _signals_held(deliver=True):  # a second Ctrl-C must not stop the undo halfway
            for undo in reversed(journal.undo):
                try:
                    undo()
                except Exception:  # noqa: BLE001 - best effort: undo the rest, report the first error
                    pass
        raise
    finally:
        _JOURNAL = None
        _PENDING.clear()  # folders claimed but never written: nothing to create any more
    with _signals_held(deliver=False):  # the outputs are complete: a signal now changes nothing
        for finish in journal.finish:
            try:
                finish()
            except OSError:
                pass


_HELD = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held(deliver: bool) -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs (their Python handlers are swapped for one that
    only notes them: this works whichever thread the OS hands a signal to). After the block, a
    signal that arrived is raised again for the restored handler (`deliver`: the command then stops
    as interrupted) or, once the command's outputs are complete, dropped with a log line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: arrived.append(signum)) for signum in _HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if arrived and deliver:
            signal.raise_signal(arrived[0])
        elif arrived:
            logging.getLogger("skelssl").warning(
                "%s arrived while the finished command removed earlier versions; its outputs are complete",
                signal.Signals(arrived[0]).name)


def after_success(action: Callable[[], object]) -> None:
    """Run `action` once the command has succeeded: at the end of `all_or_nothing`, after its
    outputs are final (at once outside one). For deleting what must survive a failure."""
    if _JOURNAL is None:
        action()
    else:
        _JOURNAL.finish.append(action)


def set_aside_dir(folder: Path) -> None:
    """Before a command rewrites `folder` in place (a live log that its writer clears), move the
    earlier contents aside: put back if the command fails, deleted when it succeeds. Outside
    `all_or_nothing`, or for a missing or empty folder, nothing happens."""
    journal = _JOURNAL
    if journal is None or not folder.is_dir() or folder.is_symlink() or not any(folder.iterdir()):
        return
    old = _temp_name(folder, "old")
    os.rename(folder, old)

    def put_back() -> None:
        if os.path.lexists(folder):
            failed = _temp_name(folder, "tmp")
            os.rename(folder, failed)
            shutil.rmtree(failed, ignore_errors=True)
        os.rename(old, folder)

    journal.undo.append(put_back)
    journal.finish.append(lambda: _remove_earlier(old, folder))


@contextmanager
def kept_on_failure() -> Iterator[None]:
    """Writes in this block stay even when the command fails: what exists to survive a failure
    (the resumable checkpoint, the live log of the failed run)."""
    global _JOURNAL
    saved, _JOURNAL = _JOURNAL, None
    try:
        yield
    finally:
        _JOURNAL = saved


def _take_back_marker(folder: Path, before: set[str]) -> bool:
    """Remove the marker added to `folder` when it holds nothing else that was not there before
    (`before`: its entries then); True when the marker went."""
    try:
        if set(os.listdir(folder)) - {MARKER} <= before:
            (folder / MARKER).unlink(missing_ok=True)
            return True
    except OSError:
        pass
    return False


def _replace_file(tmp: Path, final: Path, created: list[Path]) -> None:
    """Rename `tmp` to `final`; inside `all_or_nothing`, keep the earlier `final` until the end."""
    journal = _JOURNAL
    if journal is None:
        os.replace(tmp, final)
        return
    if not os.path.lexists(final):
        os.rename(tmp, final)

        def remove_new() -> None:
            final.unlink(missing_ok=True)
            _remove_created(created)

        journal.undo.append(remove_new)
        return
    old = _temp_name(final, "old")
    try:
        os.link(final, old)  # the earlier version stays reachable while `final` is replaced atomically
        linked = True
    except OSError:  # no hard links here: a rename leaves `final` missing for an instant
        os.rename(final, old)
        linked = False
    try:
        os.replace(tmp, final)
    except OSError:
        if linked:
            old.unlink(missing_ok=True)
        else:
            os.rename(old, final)
        raise
    journal.undo.append(lambda: os.replace(old, final))
    journal.finish.append(lambda: old.unlink(missing_ok=True))


def _remove_earlier(old: Path, final: Path) -> None:
    """Delete the earlier version of folder `final` (renamed to `old`); when that fails (a folder
    inside it the user made read-only), say where it was left rather than leave it silently."""
    shutil.rmtree(old, ignore_errors=True)
    if os.path.lexists(old):
        logging.getLogger("skelssl").warning(
            "%s: the earlier version of %s could not be removed completely; remove it yourself", old, final)


def _swap_dir(tmp: Path, final: Path, created: list[Path]) -> None:
    """Put folder `tmp` at `final`; the earlier `final` is deleted now, or inside `all_or_nothing`
    when the block succeeds (put back when it fails)."""
    journal = _JOURNAL
    if not os.path.lexists(final):
        os.rename(tmp, final)

        def remove_new() -> None:
            trash = _temp_name(final, "tmp")
            os.rename(final, trash)  # the path is free at once; the deletion may take a while
            shutil.rmtree(trash, ignore_errors=True)
            _remove_created(created)

        _on_failure(remove_new)
        return
    old = _temp_name(final, "old")
    os.rename(final, old)
    os.rename(tmp, final)
    if journal is None:
        _remove_earlier(old, final)
        return

    def put_back() -> None:
        failed = _temp_name(final, "tmp")
        os.rename(final, failed)
        os.rename(old, final)
        shutil.rmtree(failed, ignore_errors=True)

    journal.undo.append(put_back)
    journal.finish.append(lambda: _remove_earlier(old, final))


# ---------------------------------------------------------------------------- atomic writes


@contextmanager
def atomic_dir(final: Path, stage: str, inputs: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield an empty temporary folder (with `stage`'s marker) that replaces `final` only if the
    block succeeds. Refuses, before the block runs, an unsafe or foreign `final` (see the module
    docstring); the check is repeated just before the swap."""
    final = Path(final)
    check_dir_output(final, stage, inputs)
    created = _mkdirs(final.parent)
    remove_stale_temporaries(final.parent, [final.name], stage)
    tmp = _temp_name(final, "tmp")
    try:
        os.mkdir(tmp, 0o777)
    except OSError as exc:
        _remove_created(created)
        raise _naming(exc, tmp, final) from None
    try:
        write_marker(tmp, stage)
        yield tmp
        check_replaceable_dir(final, stage)
        _swap_dir(tmp, final, created)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        raise _naming(exc, tmp, final) from None
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        io_error = _io_error_in(exc, final)
        if io_error is not None:
            raise io_error from None
        raise


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder that is renamed to `final` on success.

    The caller owns `final` (a file of a folder claimed with `claim_output_dir`); a folder or
    symlink at `final` is refused rather than replaced."""
    final = Path(final)
    if os.path.lexists(final) and (final.is_symlink() or not final.is_file()):
        raise OutputError(f"{final}: exists and is not a regular file; refusing to replace it")
    created = _create_parent(final)
    tmp = _temp_name(final, "tmp")
    try:
        _write_new(tmp, b"")
    except OSError as exc:
        _remove_created(created)
        raise _naming(exc, tmp, final) from None
    try:
        yield tmp
        _replace_file(tmp, final, created)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _remove_created(created)
        raise _naming(exc, tmp, final) from None
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _remove_created(created)
        io_error = _io_error_in(exc, final)
        if io_error is not None:
            raise io_error from None
        raise


def _io_error_in(exc: BaseException, final: Path) -> OSError | None:
    """The OSError behind a library's own exception type, when there is one: polars reports
    `... (os error 28)` in a ComputeError, torch.save a RuntimeError from its zip writer."""
    if not isinstance(exc, Exception) or isinstance(exc, SkelsslError):
        return None
    text = str(exc)
    found = re.search(r"os error (\d+)", text)
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code), str(final))
    if isinstance(exc, RuntimeError) and ("inline_container" in text or "PytorchStreamWriter" in text):
        try:
            full = os.statvfs(final.parent).f_bavail == 0
        except OSError:
            full = False
        code = errno.ENOSPC if full else errno.EIO
        return OSError(code, os.strerror(code), str(final))
    return None


def _naming(exc: OSError, tmp: Path, final: Path) -> OSError:
    """`exc` with the temporary's path replaced by the output's, the path a user knows."""

    def rename(name: object) -> object:
        text = os.fsdecode(name) if isinstance(name, (str, bytes)) else name
        if isinstance(text, str) and text.startswith(str(tmp)):
            return str(final) + text[len(str(tmp)):]
        return name

    if exc.errno is None:
        return exc
    if exc.filename is None:  # e.g. a write() that hit a full disk: name the output
        return OSError(exc.errno, exc.strerror, str(final))
    return OSError(exc.errno, exc.strerror, rename(exc.filename), None, rename(exc.filename2))


def os_error_message(exc: OSError) -> str:
    """One line for an OSError: the path(s) it names and the system's reason."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    if exc.filename is not None and exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {reason}"
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return str(exc) or reason
