"""Stages start with only the libraries they use (issue 14 item 9: every stage imported torch, about
1 s of a stage's start-up on 2 cores, and two stage start-ups were most of an end-to-end ingest +
preprocess; `benchmarks/ingest.py` measures that end to end).

Importing torch, scikit-learn, matplotlib or dvclive costs 0.3-1 s each; the data stages and the
CLI need none of them. The `skelssl` command and the stage runner parse arguments before a stage
runs, so they import no numerical library at all (`skelssl --help`, `--version` and shell
completion stay fast). `scipy.linalg` is absent after import, and a data stage's process never
loads it: numba's first dispatch would, for its BLAS probe (about 0.2 s), which the stage
runner skips (`skelssl.runner.load_numba_without_blas_probe`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT

HEAVY = ["torch", "sklearn", "matplotlib", "dvclive", "scipy.linalg", "scipy.io"]
NUMERICAL = ["numpy", "numba", "polars", "pyarrow", "pandas"]

CASES = {
    "skelssl.pipeline.ingest": HEAVY + ["skelssl.kernels.batch"],  # preprocess's kernel
    "skelssl.pipeline.preprocess": HEAVY + ["skelssl.data.sources"],  # the readers
    "skelssl.pipeline.synthesize": HEAVY + ["numba", "polars"],
    "skelssl.cli": HEAVY + NUMERICAL,
    "skelssl.runner": HEAVY + NUMERICAL,
}


def python(code: str, *args: str) -> str:
    """Stdout of `code` run in a fresh interpreter (with `args` as sys.argv[1:])."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True).stdout


def imported(module: str, names: list[str]) -> list[str]:
    """Which of `names` are in sys.modules after importing `module` in a fresh interpreter."""
    return python(f"import sys, {module}; print(' '.join(n for n in {names!r} if n in sys.modules))").split()


@pytest.mark.parametrize("module", sorted(CASES))
def test_no_needless_import(module):
    assert imported(module, CASES[module]) == []


FIRST_DISPATCH = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    import skelssl.pipeline.preprocess  # imports numba, as the preprocess stage does
    from skelssl.kernels import preprocess_batch
    from skelssl.runner import load_numba_without_blas_probe
    if sys.argv[1] == "skip":
        load_numba_without_blas_probe()
    joints = np.random.default_rng(0).normal(size=(60, 2, 25, 3)).astype(np.float32)
    x, motion = preprocess_batch(joints, np.array([0, 25, 60]), 16, align=True, scale="rms")
    report = {"scipy.linalg": "scipy.linalg" in sys.modules,
              "digest": hashlib.sha256(x.tobytes() + motion.tobytes()).hexdigest()}
    import scipy.linalg.cython_blas  # the block is lifted: scipy imports as usual
    import numba
    dot = numba.njit(lambda a, b: np.dot(a, b))  # numba still finds BLAS for np.dot
    report["dot"] = float(dot(np.arange(3.0), np.arange(3.0)))
    print(json.dumps(report))
""")


def first_dispatch(mode: str) -> dict:
    return json.loads(python(FIRST_DISPATCH, mode))


def test_data_stage_skips_numbas_blas_probe_with_the_same_results():
    probed, skipped = first_dispatch("probe"), first_dispatch("skip")
    assert probed["scipy.linalg"] is True  # what the skip saves: numba's probe loads scipy.linalg
    assert skipped["scipy.linalg"] is False
    assert skipped["digest"] == probed["digest"]
    assert skipped["dot"] == probed["dot"] == 5.0


def test_blas_probe_skip_loads_nothing_in_a_stage_without_numba():
    code = ("import sys; from skelssl.runner import load_numba_without_blas_probe; "
            "load_numba_without_blas_probe(); "
            "print(' '.join(n for n in ('numba', 'scipy.linalg.cython_blas') if n in sys.modules))")
    assert python(code).split() == []


def test_run_stage_skips_the_probe_for_a_stage_that_uses_numba():
    """The skip is wired where stages start: `run_stage`, which every stage script and command uses."""
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import skelssl.kernels  # a numba stage's module imports numba before run_stage runs
        from skelssl.runner import run_stage

        def stage(params):
            skelssl.kernels.valid_length(np.ones((4, 1, 25, 3), dtype=np.float32))

        run_stage(stage, [], {str(ROOT / "params.yaml")!r})
        print("scipy.linalg" in sys.modules)
    """)
    assert python(code).split() == ["False"]


def test_stage_process_gc_collects_less_and_skips_the_last_collection():
    """`configure_process_gc` (every stage script and the `skelssl` command call it first): a
    higher young-generation threshold, and every object frozen after the other atexit handlers,
    so the interpreter's last collection at exit has nothing to scan. A handler registered before
    it runs after it (atexit is last in, first out) and sees the frozen objects."""
    code = textwrap.dedent("""
        import atexit, gc
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
        print("frozen before:", gc.get_freeze_count() > 0)
        from skelssl.runner import GC_YOUNG_THRESHOLD, configure_process_gc
        configure_process_gc()
        print("threshold:", gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700)
    """)
    assert python(code).splitlines() == ["frozen before: False", "threshold: True", "frozen at exit: True"]


@pytest.mark.parametrize("entry", ["stage", "cli"])
def test_stage_script_and_command_configure_the_gc(entry, monkeypatch):
    """Both entry points configure the collector before anything else runs."""
    import gc

    from skelssl import cli, runner

    calls = []
    monkeypatch.setattr(runner, "configure_process_gc", lambda: calls.append("gc"))
    monkeypatch.setattr(cli, "configure_process_gc", lambda: calls.append("gc"))
    monkeypatch.setattr(runner, "run_stage", lambda *a, **k: calls.append("stage"))
    monkeypatch.setattr(cli, "app", lambda: calls.append("app"))
    threshold = gc.get_threshold()
    if entry == "stage":
        runner.stage_main(lambda params: None)
    else:
        cli.main()
    assert calls == ["gc", "stage" if entry == "stage" else "app"]
    assert gc.get_threshold() == threshold  # the test process itself is left as it was
