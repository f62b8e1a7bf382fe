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
- **Leftovers**: temporaries are named `.<name>.tmp-<host>-<pid>-<token>`; a stage removes the
  ones of its output whose process on this host is gone (after `kill -9`), and never others.
- **Permissions**: folders are created with mode 0777 and files with 0666, less the umask, like
  any file a user creates (tempfile's private 0700 / 0600 is not used).
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterable, Iterator
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
    _write_new(folder / MARKER, (json.dumps({"stage": stage, "by": "skelssl"}) + "\n").encode())


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
    marker is then added). Anything else is refused, as is a path where a file is expected to be
    replaced but is not a regular file.
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
        raise OutputError(f"{folder / MARKER}: belongs to `skelssl {owner}`; refusing to replace it")
    if folder.is_dir():
        remove_stale_temporaries(folder, files)
        if owner != stage:
            write_marker(folder, stage)
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
        write_marker(parent, stage)
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
        if os.path.lexists(final):
            old = _temp_name(final, "old")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
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
        os.replace(tmp, final)
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
