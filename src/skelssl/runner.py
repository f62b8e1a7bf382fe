"""Runs one stage function with params loaded, logging set up, and errors as one line + exit 1.

Failures a user can cause (bad input, bad params, an output path the stage may not use, and OS
errors: permission, disk full, missing folder) end with one `error:` line naming the path and
exit code 1, never a traceback. SIGINT and SIGTERM interrupt the stage like an error would: the
stage's temporaries are removed (`skelssl.outputs`), one line says so, and the exit code is the
shell's 128 + signal number (130, 143).
"""

from __future__ import annotations

import atexit
import gc
import inspect
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

from rich.text import Text

from skelssl.config import Params, load_params
from skelssl.console import console, setup_logging
from skelssl.errors import SkelsslError
from skelssl.outputs import all_or_nothing, os_error_message


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; raised in the main thread so `finally`/`except` blocks clean up."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def error_line(message: str) -> Text:
    """`error: <message>` with the message taken literally (no rich markup, no emoji codes)."""
    return Text.assemble(("error:", "bold red"), " ", " ".join(str(message).split("\n")))


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(error_line(message), highlight=False, soft_wrap=True, emoji=False, markup=False)
    raise SystemExit(code)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def guarded(action: Callable[[], None]) -> None:
    """Run `action`, all or nothing (`skelssl.outputs.all_or_nothing`: a failure leaves every output
    as it was); user-caused failures become one `error:` line and exit 1 (see module doc)."""
    try:
        with interruptible(), all_or_nothing():
            action()
    except SkelsslError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error_message(exc))
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        fail(f"interrupted by {signal.Signals(signum).name}; temporary outputs removed, earlier "
             "outputs left in place", 128 + int(signum))


def load_numba_without_blas_probe() -> None:
    """Load numba's array-math module now, with its one-time BLAS probe skipped (data stages only).

    When numba first dispatches a compiled function in a process it imports `numba.np.arraymath`,
    whose module body imports `scipy.linalg.cython_blas` only to decide whether numba's
    `np.convolve` / `np.correlate` may call BLAS (`_HAVE_BLAS`, as read in numba 0.68). That import
    loads all of `scipy.linalg`: about 0.2 s of each data stage's start-up (issue 14 item 9,
    measured in docs/benchmarks.md), for kernels of which none uses BLAS. Here the module is
    loaded while that one import is blocked, and the block is lifted at once: afterwards
    `scipy.linalg` imports normally, and numba's `np.dot` / `np.linalg` still find BLAS (they
    import it themselves when compiled). What stays for the process: numba-compiled
    `np.convolve` / `np.correlate` use numba's own loop instead of BLAS (same results, slower on
    long inputs; skelssl calls neither).

    Does nothing unless numba is already imported (the stage function's module imports it: ingest
    and preprocess; no other stage loads numba) and neither the module nor `scipy.linalg` is loaded
    yet. Called by `run_stage`, i.e. only in a stage's own process, never on library import.
    """
    blocked = "scipy.linalg.cython_blas"
    if ("numba" not in sys.modules or "numba.np.arraymath" in sys.modules
            or "scipy.linalg" in sys.modules or blocked in sys.modules):
        return
    sys.modules[blocked] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    except ImportError:  # a numba whose module requires BLAS: let its first dispatch load it
        pass
    finally:
        del sys.modules[blocked]


def run_stage(fn: Callable[..., None], paths: list[str], params_file: str | Path = "params.yaml",
              name: str | None = None) -> None:
    """Call `fn(params, *paths)`; failures become one line on stderr (see `guarded`). `name`: the
    stage, as errors call it (default: `fn`'s module)."""
    setup_logging()
    load_numba_without_blas_probe()
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    most = len(parameters)  # trailing paths with a default (a model folder) are optional
    least = sum(p.default is inspect.Parameter.empty for p in parameters)
    if not least <= len(paths) <= most:
        stage = name or fn.__module__.rsplit(".", 1)[-1]
        expected = str(most) if least == most else f"{least} or {most}"
        noun = "path" if most == 1 else "paths"
        fail(f"stage {stage} takes {expected} {noun}, got {len(paths)}: {' '.join(paths) or '(none)'}")

    def action() -> None:
        params: Params = load_params(params_file)
        fn(params, *(Path(p) for p in paths))

    guarded(action)


# Young-generation threshold of a stage's process (CPython's default is 700): see configure_process_gc.
GC_YOUNG_THRESHOLD = 50_000


def configure_process_gc() -> None:
    """Tune the garbage collector for a stage's or CLI command's own process (never on library
    import or in a test process); issue 14 item 9, measured in docs/benchmarks.md.

    - Fewer collections while modules load: numba's first dispatch of a cached kernel creates
      hundreds of thousands of objects (its typing and lowering registries), and at CPython's
      default threshold (a collection every 700 net allocations) a data stage on 2,000 NTU files
      runs about 300 young, 29 middle and 2 full collections, 0.09–0.10 s in all; with
      `GC_YOUNG_THRESHOLD`, 3, 1 and none, 0.04–0.06 s. Cyclic garbage is still collected, in
      larger batches. A training loop frees about as much as it allocates and is hardly affected
      (the pretrain stage, 3 skeleton2vec epochs on the embedded data, two runs each: 28.0–29.2 vs
      26.8–29.4 s, peak RSS 1,112 vs 1,082–1,092 MB, the same encoder file byte for byte).
    - No last collection at exit: after the atexit handlers CPython collects every object still
      alive, 0.27–0.38 s in a process that has dispatched the preprocess kernel, only to free
      memory the operating system takes back anyway. `gc.freeze` moves every object to the collector's permanent generation,
      which that collection skips; it is registered here, at the entry point, so it runs after
      every atexit handler the stage itself registers (last in, first out). The rest of a normal
      exit still happens (those handlers, module teardown, freeing by reference counting); only
      objects kept alive by reference cycles at exit are never finalized, as after `os._exit`.
      No output depends on that: every output is written inside a `with` block and renamed into
      place before the stage function returns (`skelssl.outputs`).
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    atexit.register(gc.freeze)


def stage_main(fn: Callable[..., None]) -> None:
    """Entry point of a `stages/*.py` shim: paths come from argv (dvc.yaml's cmd); the stage is
    named after the script."""
    configure_process_gc()
    run_stage(fn, sys.argv[1:], name=Path(sys.argv[0]).stem)
