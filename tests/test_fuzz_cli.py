"""Property-based fuzzing of the `skelssl` command line (issue 11, item 9).

The CLI runs in-process (`typer.testing.CliRunner`) in a fresh temporary workspace per example:

    <root>/outside.txt, <root>/home/sibling/s.txt     (above the working directory)
    <root>/home/work/                                 (the working directory)
        notes.txt, mine/keep.txt, empty/              (the user's own files and folders)
        prev/  (an earlier output: a `.skelssl-output` marker of some stage + old.txt)
        ln -> empty, dangling -> nowhere              (symlinks)
        <raw>/ (a tiny `generic` dataset: <name>.npy clips (8, 25, 3) + labels.csv; random name)
        params.yaml                                   (the repository's, made tiny)

Fuzzed: output / input paths (brackets such as `[/x]` and `[raw]`, colons, `:x:` emoji codes,
spaces, unicode, `.` / `..` components, absolute spellings, the user's files and folders) given to
`ingest`, `preprocess`, `synthesize`, `export-pyskl` and `evaluate` (only the paths it must refuse:
an accepted one would need a pretrained encoder and minutes); values of every params field type
(ints, floats incl. inf / nan / huge / negative, bools as strings or ints, literals, markup strings,
missing and unknown keys, wrong nesting, broken files) through `params check`, `ingest --params` and
(the preprocess block) `preprocess --params`; labels files of the generic source (negative, huge,
sparse, non-integer, empty, duplicate, missing, reserved columns, bad names, class-name labels,
all-zero clips, non-UTF-8 bytes, truncation), each compared with the rules of its docstring.

Minimal reproductions of what the fuzzing found are plain tests at the end of each section.

Property of every invocation: exit 0 with valid outputs (ingest: index.parquet with an integer
`label` column holding 0..K-1, accepted by preprocess and export-pyskl), or exit 1 with exactly one
stderr line, `error: ...`, the last one (INFO/WARNING log lines may precede it; `params check`
prints one `error:` line per problem), and no traceback; and nothing under <root> changes except,
after exit 0, the output path itself and the folders its text names that did not exist. Where a
simple model of the rules in `skelssl.outputs` says a path must be refused, the message must hold
that path's text literally (as `pathlib.Path` spells it: `./a//b/` is `a/b`); where the model says
the run must succeed, it must.

Not generated: control characters in paths (rich strips or expands them when printing, and a
newline is printed as a space by design) and lone surrogates (not encodable on Linux).

Examples per test: `SKELSSL_FUZZ_EXAMPLES` (default 15, about 50 s for the file on a busy core);
the number of CLI invocations made is printed at the end of the module (run with `-s` to see it).
Runs are derandomized (same examples every run for a given count) and keep no database; failing
examples are not shrunk unless `SKELSSL_FUZZ_SHRINK=1` (shrinking a CLI run can take minutes).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import logging
import math
import os
import pickle
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ruamel.yaml import YAML
from typer.testing import CliRunner

from helpers import ROOT
from skelssl.cli import app
from skelssl.config import Params

EXAMPLES = max(1, int(os.environ.get("SKELSSL_FUZZ_EXAMPLES", "15")))
CALLS: Counter[str] = Counter()  # CLI invocations per command, reported at the end
OUTCOMES: Counter[str] = Counter()  # "<command> exit <code>"

MARKER = ".skelssl-output"
LABEL_LIMIT = 2**31
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (INFO|WARNING) ")


SHRINK = os.environ.get("SKELSSL_FUZZ_SHRINK") == "1"  # shrinking a CLI failure can take minutes


def fuzz_settings(scale: float = 1.0) -> settings:
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    return settings(max_examples=max(1, round(EXAMPLES * scale)), deadline=None, derandomize=True,
                    database=None, phases=phases, suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ harness


class _CurrentStderr(logging.StreamHandler):
    """skelssl.console.setup_logging binds its handler to the sys.stderr of the first call; under
    CliRunner that stream is closed after the first invocation (`--- Logging error ---` tracebacks
    in every later one). This handler writes to whatever sys.stderr is when it emits."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


@pytest.fixture(scope="module", autouse=True)
def _logging_and_report():
    log = logging.getLogger("skelssl")
    saved = (log.handlers[:], log.level, log.propagate)
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    yield
    log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]
    total = sum(CALLS.values())
    print(f"\ntest_fuzz_cli: {total} CLI invocations with SKELSSL_FUZZ_EXAMPLES={EXAMPLES}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(CALLS.items())))
    print("test_fuzz_cli outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(OUTCOMES.items())))


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def invoke(cwd: Path, args: list[str]) -> Any:
    """Run `skelssl <args>` in-process with `cwd` as the working directory."""
    command = args[0] if args[0] != "params" else "params check"
    CALLS[command] += 1
    with _cwd(cwd):
        result = CliRunner().invoke(app, args)
    OUTCOMES[f"{command} exit {result.exit_code}"] += 1
    return result


def _describe(args: list[str], result: Any) -> str:
    return f"skelssl {args!r} -> exit {result.exit_code}\nstderr: {result.stderr!r}\nstdout: {result.stdout!r}"


def _no_traceback(args: list[str], result: Any) -> None:
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        pytest.fail(f"uncaught {type(exc).__name__}: {_describe(args, result)}\n{tb}")
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, _describe(args, result)


def error_message(args: list[str], result: Any) -> str | None:
    """None after exit 0; after exit 1 the text of the single `error:` line, which must be the
    last stderr line (only log lines may precede it)."""
    _no_traceback(args, result)
    if result.exit_code == 0:
        return None
    assert result.exit_code == 1, _describe(args, result)
    lines = result.stderr.rstrip("\n").split("\n")
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], _describe(args, result)
    assert all(LOG_LINE.match(line) for line in lines[:-1]), _describe(args, result)
    assert result.stdout == "", _describe(args, result)
    return errors[0].removeprefix("error: ")


def _emoji_chars() -> set[str]:
    try:
        from rich._emoji_codes import EMOJI
    except ImportError:  # pragma: no cover - private module moved
        return set()
    return {value[0] for value in EMOJI.values() if value and not value[0].isascii()}


EMOJI_CHARS = _emoji_chars()


def assert_literal(message: str, texts: list[str], args: list[str], result: Any) -> None:
    """No rich markup or emoji code was applied to user text: no emoji the inputs lack, and no
    markup-rendered form of a text appears where the text itself does not."""
    given_chars = set("".join(texts))
    made_up = {ch for ch in message if ch in EMOJI_CHARS and ch not in given_chars}
    assert not made_up, f"emoji {made_up} in the message: {_describe(args, result)}"
    from rich.errors import MarkupError
    from rich.text import Text

    for text in texts:
        try:
            rendered = Text.from_markup(text, emoji=True).plain
        except MarkupError:
            continue
        elsewhere = any(rendered in other for other in texts if other != text)
        if rendered != text and len(rendered) > 3 and rendered in message and not elsewhere:
            assert text in message, f"{text!r} printed as markup ({rendered!r}): {_describe(args, result)}"


# ------------------------------------------------------------------ the workspace


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root`: ("dir",), ("file", sha256), ("link", target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir",)
            else:
                with open(path, "rb") as handle:
                    out[rel] = ("file", hashlib.sha256(handle.read()).hexdigest())
    return out


def changes(before: dict, after: dict, root: Path, allowed: list[Path] = (), new_dirs: set[Path] = frozenset()) -> list[str]:
    """Paths that differ between two snapshots, except those at or under `allowed` and folders in
    `new_dirs` that did not exist before."""
    allowed_rel = [os.path.relpath(p, root) for p in allowed]
    new_rel = {os.path.relpath(p, root) for p in new_dirs}

    def ok(rel: str) -> bool:
        if any(rel == a or rel.startswith(a + os.sep) for a in allowed_rel):
            return True
        return rel in new_rel and rel not in before and after.get(rel) == ("dir",)

    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k) and not ok(k))


def clip(rng: np.random.Generator, frames: int = 8) -> np.ndarray:
    return (rng.normal(0, 0.3, (frames, 25, 3)) + np.array([0.0, 0.0, 3.0])).astype(np.float32)


def write_generic(folder: Path, names: list[str], labels: list[str] | None = None) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = labels or [str(k % 3) for k in range(len(names))]
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "label", "xsub_train"])
        for k, (name, label) in enumerate(zip(names, labels, strict=True)):
            np.save(folder / f"{name}.npy", clip(rng))
            writer.writerow([name, label, k % 2])


def base_params() -> dict:
    data = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    data["ingest"].update(source="generic", layout="ntu25", input="data/raw", workers=1, on_error="fail")
    data["base"]["split"] = "xsub"
    data["synthesize"].update(classes=2, subjects=2, replications=1, setups=1, frames={"min": 8, "max": 8})
    data["preprocess"]["frames"] = 8
    return data


BASE_PARAMS = base_params()


def dump_yaml(data: Any, path: Path) -> None:
    YAML(typ="safe", pure=True).dump(data, path)


CLIPS = ["c0", "c1", "c2", "c3"]


def workspace(root: Path, raw: str, prev_stage: str, params: dict | None = None) -> Path:
    """Build the workspace (see the module docstring) under `root`; returns the working directory."""
    cwd = root / "home" / "work"
    cwd.mkdir(parents=True)
    (root / "outside.txt").write_text("above the working directory\n")
    (root / "home" / "sibling").mkdir()
    (root / "home" / "sibling" / "s.txt").write_text("a sibling of the working directory\n")
    (cwd / "notes.txt").write_text("the user's notes\n")
    (cwd / "mine").mkdir()
    (cwd / "mine" / "keep.txt").write_text("the user's folder\n")
    (cwd / "empty").mkdir()
    prev = cwd / "prev"
    prev.mkdir()
    (prev / MARKER).write_text(json.dumps({"stage": prev_stage, "by": "skelssl"}) + "\n")
    (prev / "old.txt").write_text("an earlier output\n")
    os.symlink("empty", cwd / "ln")
    os.symlink("nowhere", cwd / "dangling")
    write_generic(cwd / raw, CLIPS)
    dump_yaml(params or BASE_PARAMS, cwd / "params.yaml")
    return cwd


# ------------------------------------------------------------------ path strategies

TRICKY = ["[raw]", "[bold]", "[/]", ":x:", ":smile:", "a b", " ", "é", "漢字", "😀", "Å", "-x", "--",
          "\\", "%s", "{}", "'", '"', "a:b", "x]", "[", "...", "$HOME", "~", "*", "#", "@"]
NAME_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="/\x00")
FILENAME = st.one_of(
    st.sampled_from(TRICKY),
    st.text(NAME_CHARS, min_size=1, max_size=8),
    st.lists(st.sampled_from(TRICKY + ["x", "1", "out", "é"]), min_size=1, max_size=3).map("".join),
).filter(lambda s: s not in (".", "..") and len(s.encode()) <= 60)
EXISTING = ["notes.txt", "mine", "keep.txt", "empty", "prev", "old.txt", "ln", "dangling", "home",
            "work", "sibling", "s.txt", "outside.txt", "params.yaml", "labels.csv", "c0.npy"]


@st.composite
def path_text(draw: Any, cwd: Path, favourites: list[str], depth: int = 2) -> str:
    """A path as a user might type it: components from `favourites`, the workspace's names, `.`,
    `..` (never above the temporary root, `depth` levels above the working directory), `[/x]`,
    random names; relative or absolute, with stray `./`, `//` or a trailing `/`."""
    tokens = draw(st.lists(st.one_of(
        st.sampled_from(favourites), st.sampled_from(EXISTING), st.sampled_from([".", "..", "[/x]"]),
        FILENAME), min_size=1, max_size=4))
    parts: list[str] = []
    level = depth
    for token in tokens:
        for part in token.split("/"):
            if part == "..":
                if level == 0:
                    part = "."
                else:
                    level -= 1
            elif part != ".":
                level += 1
            parts.append(part)
    text = "/".join(parts)
    style = draw(st.sampled_from(["plain", "plain", "abs", "dot", "slash", "double"]))
    if style == "abs":
        text = f"{cwd}/{text}"
    elif style == "dot":
        text = f"./{text}"
    elif style == "slash":
        text = f"{text}/"
    elif style == "double":
        text = text.replace("/", "//", 1) if "/" in text else f"{text}//"
    return text


def spelled(path: str) -> str:
    """How the product names a path it got on the command line (typer gives it a pathlib.Path)."""
    return str(Path(path))


def resolvable(cwd: Path, text: str) -> bool:
    """The kernel resolves `text` like os.path.realpath does: every folder before a `..` exists."""
    parts = Path(text).parts
    for k, part in enumerate(parts):
        if part == ".." and not (cwd / Path(*parts[:k])).is_dir():
            return False
    return True


def real(cwd: Path, text: str) -> Path:
    return Path(os.path.realpath(cwd / text))


def blocked(cwd: Path, text: str) -> bool:
    """A folder of the path is an existing non-folder (a file, a dangling link)."""
    parts = Path(text).parts
    return any(os.path.lexists(cwd / Path(*parts[:k])) and not (cwd / Path(*parts[:k])).is_dir()
               for k in range(1, len(parts)))


def named_dirs(cwd: Path, text: str) -> set[Path]:
    """The folders a successful run may create besides the output: those its path text names."""
    parts = Path(text).parts
    return {real(cwd, str(Path(*parts[:k]))) for k in range(1, len(parts))}


def _marker(folder: Path) -> str | None:
    try:
        return json.loads((folder / MARKER).read_text())["stage"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def output_refused(cwd: Path, text: str, inputs: list[str], stage: str | None) -> bool:
    """The rules of skelssl.outputs (module docstring), modelled independently. `stage` None: a
    file output (export-pyskl) that only the cwd/input rules apply to."""
    target, here = real(cwd, text), Path(os.path.realpath(cwd))
    if target == here or target in here.parents:
        return True
    for source in inputs:
        src = real(cwd, source)
        if target == src or target in src.parents or src in target.parents:
            return True
    if stage is None:
        return False
    path = cwd / Path(text)
    if not os.path.lexists(path):
        return False
    if path.is_symlink() or not path.is_dir():
        return True
    return any(path.iterdir()) and _marker(path) != stage


def check_paths_property(root: Path, cwd: Path, args: list[str], before: dict, out_text: str,
                         inputs: list[str], stage: str | None, inputs_ok: bool) -> tuple[Any, bool]:
    """Run `args`; check the property for an output path. Returns (result, succeeded)."""
    refused = resolvable(cwd, out_text) and output_refused(cwd, out_text, inputs, stage)
    is_blocked = blocked(cwd, out_text)
    must_succeed = inputs_ok and resolvable(cwd, out_text) and not refused and not is_blocked
    result = invoke(cwd, args)
    message = error_message(args, result)
    after = snapshot(root)
    texts = [a for a in args if not a.startswith("-")]
    if message is None:
        assert not refused and not is_blocked, f"accepted a path it must refuse: {_describe(args, result)}"
        target = real(cwd, out_text)
        diff = changes(before, after, root, [target], named_dirs(cwd, out_text))
        assert not diff, f"changed outside the output {target}: {diff}\n{_describe(args, result)}"
        return result, True
    diff = changes(before, after, root)
    assert not diff, f"a failed run changed {diff}\n{_describe(args, result)}"
    assert_literal(message, texts, args, result)
    if refused:
        assert spelled(out_text) in message, f"the message does not name {spelled(out_text)!r}: {_describe(args, result)}"
    elif is_blocked:  # a file where a folder of the output should be, or a bad input (checked first)
        parts = Path(out_text).parts
        named = [str(Path(*parts[:k])) for k in range(1, len(parts) + 1)] + [spelled(i) for i in inputs]
        assert any(p in message for p in named), f"no part of {out_text!r} named: {_describe(args, result)}"
    elif must_succeed:
        pytest.fail(f"a valid run failed: {_describe(args, result)}")
    return result, False


# ------------------------------------------------------------------ output checks


def check_ingest_output(folder: Path, expected_rows: int | None = None) -> pl.DataFrame:
    assert _marker(folder) == "ingest"
    index = pl.read_parquet(folder / "index.parquet", glob=False)
    assert index["label"].dtype.is_integer() and index["label"].null_count() == 0, index.schema
    joints = np.load(folder / "joints.npy")
    assert joints.dtype == np.float32 and joints.ndim == 4 and len(joints) == index["frames"].sum()
    assert (joints.reshape(len(joints), -1) != 0).any(axis=1).all(), "an all-zero frame was kept"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["layout"] == "ntu25" and meta["source"] == "generic"
    if expected_rows is not None:
        assert index.height == expected_rows
    return index


def check_later_stages(cwd: Path, ingested: Path) -> None:
    """Whatever ingest wrote, preprocess and export-pyskl accept (outputs in a separate folder)."""
    with tempfile.TemporaryDirectory() as spare:
        args = ["preprocess", "--params", str(cwd / "params.yaml"), "--", str(ingested), f"{spare}/proc"]
        result = invoke(cwd, args)
        assert error_message(args, result) is None, _describe(args, result)
        n = pl.read_parquet(ingested / "index.parquet", glob=False).height
        x = np.load(f"{spare}/proc/joints.npy", mmap_mode="r")
        assert x.shape[0] == n and x.shape[2] == BASE_PARAMS["preprocess"]["frames"] and np.isfinite(x).all()
        args = ["export-pyskl", "--", str(ingested), f"{spare}/out.pkl"]
        result = invoke(cwd, args)
        assert error_message(args, result) is None, _describe(args, result)
        with open(f"{spare}/out.pkl", "rb") as handle:
            assert len(pickle.load(handle)["annotations"]) == n


def ingest_here(cwd: Path, raw: str, out: str) -> None:
    args = ["ingest", "--", raw, out]
    result = invoke(cwd, args)
    assert error_message(args, result) is None, _describe(args, result)


STAGES = ["ingest", "preprocess", "synthesize", "report", "evaluate"]
RAW_NAMES = st.one_of(st.sampled_from(["raw", "[raw]", "[/x]", ":x:", "my data", "données", "a:b"]), FILENAME)


def raw_dir_name(name: str) -> str:
    return name.replace("/", "_")


# ------------------------------------------------------------------ paths: stages with folder outputs


@fuzz_settings(1.0)
@given(data=st.data())
def test_ingest_paths(data: Any) -> None:
    raw = raw_dir_name(data.draw(RAW_NAMES, label="raw"))
    prev_stage = data.draw(st.sampled_from(STAGES), label="prev_stage")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, raw, prev_stage)
        spellings = [raw, f"./{raw}", f"{raw}/", str(cwd / raw), f"../work/{raw}"]
        inp = data.draw(st.one_of(st.sampled_from(spellings), st.sampled_from(spellings),
                                  path_text(cwd, [raw, "mine", "prev"])), label="input")
        out = data.draw(path_text(cwd, ["out", "prev", "empty", raw, "mine", "notes.txt"]), label="output")
        inputs_ok = resolvable(cwd, inp) and (cwd / Path(inp)).is_dir() and real(cwd, inp) == cwd / raw
        out_fine = resolvable(cwd, out) and not output_refused(cwd, out, [inp], "ingest") and not blocked(cwd, out)
        before = snapshot(root)
        args = ["ingest", "--", inp, out]
        result, ok = check_paths_property(root, cwd, args, before, out, [inp], "ingest", inputs_ok)
        message = error_message(args, result)
        if not ok and not inputs_ok and out_fine:
            assert spelled(inp) in message, f"the message does not name the input: {_describe(args, result)}"
        if ok:
            index = check_ingest_output(cwd / Path(out), len(CLIPS))
            assert sorted(index["label"].unique().to_list()) == [0, 1, 2]
            check_later_stages(cwd, cwd / Path(out))


@fuzz_settings(0.75)
@given(data=st.data())
def test_preprocess_paths(data: Any) -> None:
    raw = raw_dir_name(data.draw(RAW_NAMES, label="raw"))
    prev_stage = data.draw(st.sampled_from(STAGES), label="prev_stage")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, raw, prev_stage)
        ingest_here(cwd, raw, "ing")
        spellings = ["ing", "./ing", "ing/", str(cwd / "ing"), "../work/ing"]
        inp = data.draw(st.one_of(st.sampled_from(spellings), path_text(cwd, ["ing", raw, "prev"])), label="input")
        out = data.draw(path_text(cwd, ["proc", "prev", "ing", "empty", "mine"]), label="output")
        inputs_ok = resolvable(cwd, inp) and real(cwd, inp) == cwd / "ing" and (cwd / Path(inp)).is_dir()
        before = snapshot(root)
        args = ["preprocess", "--", inp, out]
        result, ok = check_paths_property(root, cwd, args, before, out, [inp], "preprocess", inputs_ok)
        if ok:
            folder = cwd / Path(out)
            assert _marker(folder) == "preprocess"
            x = np.load(folder / "joints.npy")
            motion = np.load(folder / "motion.npy")
            assert x.shape == (len(CLIPS), 1, 8, 25, 3) and motion.shape == x.shape[:4]
            assert pl.read_parquet(folder / "index.parquet", glob=False)["label"].dtype.is_integer()


@fuzz_settings(0.5)
@given(data=st.data())
def test_synthesize_paths(data: Any) -> None:
    prev_stage = data.draw(st.sampled_from(STAGES), label="prev_stage")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, "raw", prev_stage)
        out = data.draw(path_text(cwd, ["synthetic", "prev", "empty", "mine", "raw"]), label="output")
        before = snapshot(root)
        args = ["synthesize", "--", out]
        result, ok = check_paths_property(root, cwd, args, before, out, [], "synthesize", True)
        if ok:
            folder = cwd / Path(out)
            assert _marker(folder) == "synthesize"
            assert sorted(p.suffix for p in folder.iterdir() if p.name != MARKER) == [".skeleton"] * 12


@fuzz_settings(0.75)
@given(data=st.data())
def test_export_pyskl_paths(data: Any) -> None:
    raw = raw_dir_name(data.draw(RAW_NAMES, label="raw"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, raw, "ingest")
        ingest_here(cwd, raw, "ing")
        out = data.draw(path_text(cwd, ["out.pkl", "ing", "notes.txt", "mine", "ing/index.parquet"]), label="output")
        overwrite = data.draw(st.booleans(), label="overwrite")
        before = snapshot(root)
        args = ["export-pyskl", *(["--overwrite"] if overwrite else []), "--", "ing", out]
        path = cwd / Path(out)
        exists = os.path.lexists(path)
        refused = resolvable(cwd, out) and (output_refused(cwd, out, ["ing"], None) or (
            exists and (path.is_dir() or path.is_symlink() or not overwrite)))
        is_blocked = blocked(cwd, out)
        must_succeed = resolvable(cwd, out) and not refused and not is_blocked
        result = invoke(cwd, args)
        message = error_message(args, result)
        after = snapshot(root)
        if message is None:
            assert not refused and not is_blocked, f"must be refused: {_describe(args, result)}"
            target = real(cwd, out)
            diff = changes(before, after, root, [target], named_dirs(cwd, out))
            assert not diff, f"changed outside the output: {diff}\n{_describe(args, result)}"
            with open(path, "rb") as handle:
                assert len(pickle.load(handle)["annotations"]) == len(CLIPS)
            return
        assert not changes(before, after, root), f"a failed run changed {changes(before, after, root)}"
        assert_literal(message, [out], args, result)
        if refused:
            assert spelled(out) in message, _describe(args, result)
        elif must_succeed:
            pytest.fail(f"a valid export failed: {_describe(args, result)}")


@fuzz_settings(0.75)
@given(data=st.data())
def test_evaluate_refusals(data: Any) -> None:
    """Only the refusals: an accepted output would run evaluate (with a bogus encoder here)."""
    raw = raw_dir_name(data.draw(RAW_NAMES, label="raw"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, raw, data.draw(st.sampled_from(STAGES), label="prev_stage"))
        (cwd / "proc").mkdir()  # refusals come before any input is read: no real dataset needed
        (cwd / "proc" / "index.parquet").write_bytes(b"not parquet")
        (cwd / "enc.pt").write_bytes(b"not a checkpoint")
        out = data.draw(path_text(cwd, ["proc", "enc.pt", "notes.txt", "mine", "prev", ".", ".."]), label="output")
        inputs = ["proc", "enc.pt"]
        refused = resolvable(cwd, out) and output_refused(cwd, out, inputs, None)
        path = cwd / Path(out)
        if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
            refused = True  # claim_output_dir: a file where the output folder should be
        assume(refused)
        before = snapshot(root)
        args = ["evaluate", "--", *inputs, out]
        result = invoke(cwd, args)
        message = error_message(args, result)
        assert message is not None, f"must be refused: {_describe(args, result)}"
        assert not changes(before, snapshot(root), root), _describe(args, result)
        assert spelled(out) in message, _describe(args, result)
        assert_literal(message, [out], args, result)


def test_failed_evaluate_leaves_no_output_folder(tmp_path: Path) -> None:
    """Found by the fuzzing: evaluate created its output folder (with a marker) before it read its
    inputs, so a run that failed on a missing encoder left a new folder behind (claim_output_dir
    now creates the folder with the first file written)."""
    raw = "raw"
    cwd = workspace(tmp_path, raw, "ingest")
    ingest_here(cwd, raw, "ing")
    assert error_message(["p"], invoke(cwd, ["preprocess", "--", "ing", "proc"])) is None
    before = snapshot(tmp_path)
    args = ["evaluate", "--", "proc", "missing.pt", "new/ev"]
    result = invoke(cwd, args)
    assert error_message(args, result) == "missing.pt: encoder checkpoint not found"
    assert changes(before, snapshot(tmp_path), tmp_path) == [], "a failed evaluate created its output folder"


# ------------------------------------------------------------------ params values


def leaves(node: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every scalar (and every empty list) of a params tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*prefix, key))
    elif isinstance(node, list) and node:
        for k, value in enumerate(node):
            yield from leaves(value, (*prefix, k))
    else:
        yield prefix, node


def nodes(node: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, node) of every dict of a params tree."""
    if isinstance(node, dict):
        yield prefix, node
        for key, value in node.items():
            yield from nodes(value, (*prefix, key))


LEAVES = list(leaves(BASE_PARAMS))
INGEST_LEAVES = [(p, v) for p, v in LEAVES if p[0] in ("ingest", "base", "preprocess")]
DICTS = list(nodes(BASE_PARAMS))
LITERALS = ["adamw", "adam", "sgd", "cosine", "cosine_epoch", "step", "transformer", "stgcn", "gin",
            "ntu", "generic", "pyskl", "skip", "fail", "zeros", "copy", "keep", "auto", "cpu", "cuda",
            "ntu25", "kinect20", "coco17", "xsub", "xview", "instance", "student", "teacher", "joint",
            "random", "centrality", "bn_linear", "linear", "reference", "inclusive", "mamp", "pstl"]
MARKUP = ["[/x]", "[bold]x[/bold]", "[red]", ":x:", "[/]", "[link=file:///etc]x[/link]", "a\\[b]", "%(x)s"]
SPECIAL_FLOATS = [math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, -0.0, 1e-300, 0.0, 1e20, 1.0, 2.0]
HUGE_INTS = [2**31, 2**63, -(2**63) - 1, 10**20, 99999999999999999999, -1, -(10**20), 0]
VALUES = st.one_of(
    st.integers(-3, 300), st.sampled_from(HUGE_INTS), st.integers(),
    st.floats(-10, 10), st.sampled_from(SPECIAL_FLOATS), st.floats(),
    st.booleans(),
    st.sampled_from(["true", "false", "yes", "no", "on", "1", "0", "1.5", "1e-3", ".inf", "nan", "null", "", " "]),
    st.sampled_from(LITERALS), st.sampled_from(MARKUP), st.text(NAME_CHARS, max_size=10),
    st.none(),
    st.sampled_from([[], [1, 2], [0.5], ["joint"], [[1]], {}, {"a": 1}, {"value": 1}]),
)


def same_kind(default: Any) -> st.SearchStrategy:
    """Values of the default's type, often valid (so that not every example is a refusal)."""
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.one_of(st.just(default), st.integers(0, 2 * abs(default) + 3))
    if isinstance(default, float):
        return st.one_of(st.just(default), st.floats(0, 2 * abs(default) + 1))
    if isinstance(default, str):
        return st.sampled_from([default, *LITERALS])
    return st.sampled_from([[], [1], [2, 3], [0.5]])


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def must_refuse(default: Any, value: Any) -> bool:
    """A value of the wrong type for the field whose default is `default` (params.yaml's value)."""
    want, got = kind(default), kind(value)
    if want == "float":
        return got not in ("int", "float") or (got == "float" and not math.isfinite(value))
    if want == "list":
        return got != "list"
    return want != got


def set_path(tree: Any, path: tuple, value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def get_path(tree: Any, path: tuple) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


@st.composite
def params_case(draw: Any, favour_ingest: bool = False) -> tuple[Any, bytes | None, str | None]:
    """(params tree, raw file bytes or None to dump the tree, dotted key that must be named)."""
    tree = copy.deepcopy(BASE_PARAMS)
    whole = draw(st.sampled_from(["tree"] * 12 + ["empty", "scalar", "list", "utf8", "yaml"] + ["unchanged"] * 2))
    if whole == "empty":
        return None, b"", ""
    if whole == "scalar":
        return None, draw(st.sampled_from([b"3\n", b"[/x]\n", b"':x:'\n", b"~\n", b"base\n"])), ""
    if whole == "list":
        return None, b"- base\n- 1\n", ""
    if whole == "utf8":
        text = (ROOT / "params.yaml").read_bytes()
        at = draw(st.integers(0, len(text)))
        return None, text[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80"])) + text[at:], ""
    if whole == "yaml":
        return None, draw(st.sampled_from([b"base: {seed: 0\n", b"a: b: c\n", b"\t- x\n", b"[/x]: [\n",
                                           b"base: &a [*a]\n", b"{{{\n"])), ""
    if whole == "unchanged":
        return tree, None, None
    pool = INGEST_LEAVES if favour_ingest and draw(st.booleans()) else LEAVES
    mutations = draw(st.integers(1, 3))
    named: str | None = None
    for _ in range(mutations):
        op = draw(st.sampled_from(["value"] * 6 + ["delete", "unknown", "nest", "scalar_node"]))
        path, default = draw(st.sampled_from(pool))
        try:
            current = get_path(tree, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced it
        if op == "value":
            value = draw(st.one_of(same_kind(default), VALUES), label=f"value of {dotted(path)}")
            set_path(tree, path, value)
            named = dotted(path) if must_refuse(default, value) and mutations == 1 else named
        elif op == "delete":
            if not isinstance(path[-1], str):
                continue
            get_path(tree, path[:-1]).pop(path[-1])
            named = dotted(path) if mutations == 1 else named
        elif op == "nest":
            set_path(tree, path, draw(st.sampled_from([{"value": current}, [current], {str(path[-1]): current}])))
            named = dotted(path) if mutations == 1 and not isinstance(default, list) else named
        elif op == "unknown":
            where, node = draw(st.sampled_from(DICTS))
            try:
                target = get_path(tree, where)
            except (KeyError, IndexError, TypeError):
                continue
            if not isinstance(target, dict):
                continue
            key = draw(st.sampled_from(["extra", "[/x]", ":x:", "Seed", "seed ", "lr_"]))
            if key in target:
                continue
            target[key] = draw(VALUES)
            named = dotted((*where, key)) if mutations == 1 else named
        else:  # a whole block replaced by a scalar
            where, _ = draw(st.sampled_from(DICTS[1:]))
            try:
                set_path(tree, where, draw(st.sampled_from([1, "x", None, [], True])))
            except (KeyError, IndexError, TypeError):
                continue
            named = dotted(where) if mutations == 1 else named
    return tree, None, named


def write_params(cwd: Path, name: str, tree: Any, raw: bytes | None) -> bytes:
    path = cwd / name
    if raw is None:
        buffer = io.BytesIO()
        YAML(typ="safe", pure=True).dump(tree, buffer)
        raw = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw


def oracle(raw: bytes) -> bool:
    """The params are valid (the library's own judgement, for comparison with the CLI's)."""
    try:
        tree = YAML(typ="safe", pure=True).load(raw.decode("utf-8"))
        Params.model_validate(tree)
    except (ValidationError, UnicodeDecodeError, Exception):  # noqa: BLE001 - any reason is "invalid"
        return False
    return True


PARAMS_NAMES = st.one_of(st.sampled_from(["params.yaml", "[/x].yaml", "[raw].yaml", ":x:.yaml", "p q.yaml",
                                          "é.yml", "-p.yaml", "[bold]"]), FILENAME)


@fuzz_settings(2.0)
@given(case=params_case(), name=PARAMS_NAMES)
def test_params_check_values(case: tuple, name: str) -> None:
    tree, raw, named = case
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(os.path.realpath(tmp))
        content = write_params(cwd, name, tree, raw)
        valid = oracle(content)
        OUTCOMES[f"params check of {'valid' if valid else 'invalid'} params: exit 0 expected {valid}"] += 1
        args = ["params", "check", "--", name]
        before = snapshot(cwd)
        result = invoke(cwd, args)
        _no_traceback(args, result)
        assert not changes(before, snapshot(cwd), cwd), "params check changed a file"
        assert result.exit_code == (0 if valid else 1), _describe(args, result)
        if valid:
            assert named is None or named == "", f"a wrong-typed {named} was accepted: {_describe(args, result)}"
            assert result.stderr + result.stdout == f"{spelled(name)}: ok\n", _describe(args, result)
            return
        lines = result.stderr.rstrip("\n").split("\n")
        assert lines and all(line.startswith(f"error: {spelled(name)}:") for line in lines), _describe(args, result)
        assert_literal(result.stderr, [name, content.decode("utf-8", "replace")], args, result)
        if named:
            assert any(f": {named}:" in line or f": {named}." in line for line in lines), \
                f"no error names {named}: {_describe(args, result)}"


@fuzz_settings(1.0)
@given(case=params_case(favour_ingest=True), name=PARAMS_NAMES)
def test_ingest_with_fuzzed_params(case: tuple, name: str) -> None:
    tree, raw, named = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, "raw", "ingest")
        content = write_params(cwd, name, tree, raw)
        valid = oracle(content)
        OUTCOMES[f"ingest --params of {'valid' if valid else 'invalid'} params"] += 1
        before = snapshot(root)
        args = ["ingest", "--params", name, "--", "raw", "out"]
        result = invoke(cwd, args)
        message = error_message(args, result)
        if message is None:
            assert valid, f"invalid params accepted: {_describe(args, result)}"
            assert not changes(before, snapshot(root), root, [cwd / "out"]), _describe(args, result)
            check_ingest_output(cwd / "out")
            return
        assert not changes(before, snapshot(root), root), f"a failed ingest changed files: {_describe(args, result)}"
        assert_literal(message, [name, content.decode("utf-8", "replace")], args, result)
        if not valid:
            assert message.startswith(f"{spelled(name)}:"), f"the message does not name the params file: {_describe(args, result)}"
            if named:
                assert f": {named}:" in message or f": {named}." in message or "more; run" in message, \
                    _describe(args, result)
        else:
            assert tree["ingest"] != BASE_PARAMS["ingest"], f"valid params with the working ingest block failed: {_describe(args, result)}"


PREPROCESS_VALUES = {
    "frames": st.one_of(st.integers(-2, 40), st.sampled_from([2**62, 2**63, 10**30, 2**64 + 8]),
                        VALUES.filter(lambda v: not isinstance(v, int) or isinstance(v, bool))),
    "crop_ratio": st.one_of(st.floats(0, 1.5), VALUES),
    "center": st.one_of(st.booleans(), VALUES),
    "align_view": st.one_of(st.booleans(), VALUES),
}


@fuzz_settings(0.5)
@given(fields=st.lists(st.sampled_from(sorted(PREPROCESS_VALUES)), max_size=2, unique=True), data=st.data())
def test_preprocess_with_fuzzed_params(fields: list[str], data: Any) -> None:
    """The preprocess block through `preprocess --params`. Integer frames are small or huge (a huge
    value must be refused in one line, not allocated: mid-sized ones would eat the memory)."""
    values = {field: data.draw(PREPROCESS_VALUES[field], label=field) for field in fields}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        cwd = workspace(root, "raw", "ingest")
        ingest_here(cwd, "raw", "ing")
        tree = copy.deepcopy(BASE_PARAMS)
        tree["preprocess"].update(values)
        frames = tree["preprocess"]["frames"]
        content = write_params(cwd, "p.yaml", tree, None)
        valid = oracle(content)
        before = snapshot(root)
        args = ["preprocess", "--params", "p.yaml", "--", "ing", "proc"]
        result = invoke(cwd, args)
        message = error_message(args, result)
        if message is None:
            assert valid, _describe(args, result)
            assert not changes(before, snapshot(root), root, [cwd / "proc"]), _describe(args, result)
            assert np.load(cwd / "proc" / "joints.npy", mmap_mode="r").shape == (len(CLIPS), 1, frames, 25, 3)
            return
        assert not changes(before, snapshot(root), root), _describe(args, result)
        if not valid:
            assert message.startswith("p.yaml: preprocess."), _describe(args, result)
        else:
            assert frames > 10**6, f"valid params failed: {_describe(args, result)}"


@pytest.mark.parametrize("frames", [2**62, 2**63, 10**30])
def test_preprocess_huge_frames_is_one_line(tmp_path: Path, frames: int) -> None:
    """Minimal case found by the fuzzing: `preprocess.frames` has no upper bound, and a huge value
    escaped preprocess as a numba TypingError / numpy ValueError (a traceback), not one line."""
    write_generic(tmp_path / "raw", CLIPS)
    dump_yaml(BASE_PARAMS, tmp_path / "params.yaml")
    ingest_here(tmp_path, "raw", "ing")
    tree = copy.deepcopy(BASE_PARAMS)
    tree["preprocess"]["frames"] = frames  # now refused by validation (preprocess.frames <= 4096)
    dump_yaml(tree, tmp_path / "params.yaml")
    before = snapshot(tmp_path)
    args = ["preprocess", "--", "ing", "proc"]
    result = invoke(tmp_path, args)
    assert error_message(args, result) is not None, _describe(args, result)
    assert changes(before, snapshot(tmp_path), tmp_path) == []


def test_preprocess_reads_the_index_of_the_folder_it_is_given(tmp_path: Path) -> None:
    """Minimal case found by the fuzzing: polars reads `[raw]/index.parquet` as a glob pattern, so
    `skelssl preprocess '[raw]' p` read the index of the folder `r` (another dataset) with the
    joints of `[raw]` and exited 0 (skelssl.pipeline.dataset.read_index: pl.read_parquet needs
    glob=False)."""
    write_generic(tmp_path / "a", ["c0", "c1", "c2", "c3"], ["0", "1", "2", "0"])
    write_generic(tmp_path / "b", ["x0", "x1"], ["1", "0"])
    dump_yaml(BASE_PARAMS, tmp_path / "params.yaml")
    ingest_here(tmp_path, "a", "[raw]")
    ingest_here(tmp_path, "b", "r")
    args = ["preprocess", "--", "[raw]", "p"]
    result = invoke(tmp_path, args)
    assert error_message(args, result) is None, _describe(args, result)
    index = pl.read_parquet(tmp_path / "p" / "index.parquet", glob=False)
    assert index["name"].to_list() == ["c0", "c1", "c2", "c3"]


def test_output_in_a_folder_named_tilde(tmp_path: Path) -> None:
    """Minimal case found by the fuzzing: polars expands a leading `~` of a path to $HOME (reading
    and writing), so `skelssl ingest raw '~/out'` wrote index.parquet into $HOME/.out.tmp-*/ (and
    failed: `error: No such file or directory (os error 2): /root/.out.tmp-.../index.parquet`)
    instead of ./~/out; preprocess of a folder `~/x` would read $HOME/x/index.parquet."""
    write_generic(tmp_path / "raw", CLIPS)
    dump_yaml(BASE_PARAMS, tmp_path / "params.yaml")
    args = ["ingest", "--", "raw", "~/out"]
    result = invoke(tmp_path, args)
    assert error_message(args, result) is None, _describe(args, result)
    assert pl.read_parquet((tmp_path / "~" / "out" / "index.parquet").read_bytes()).height == len(CLIPS)


def test_failed_stage_leaves_no_new_parent_folders(tmp_path: Path) -> None:
    """Minimal case found by the fuzzing: a stage creates the missing parents of its output
    before it works (skelssl.outputs.atomic_dir) and leaves them when it fails."""
    write_generic(tmp_path / "raw", CLIPS)
    np.save(tmp_path / "raw" / "c2.npy", np.zeros((8, 25, 3), np.float32))  # every frame zero
    dump_yaml(BASE_PARAMS, tmp_path / "params.yaml")
    before = snapshot(tmp_path)
    args = ["ingest", "--", "raw", "new/sub/out"]
    result = invoke(tmp_path, args)
    assert error_message(args, result).startswith("raw/c2.npy:0: ")
    assert changes(before, snapshot(tmp_path), tmp_path) == [], "the failed ingest left new folders"


# ------------------------------------------------------------------ generic labels files

LABEL_TEXTS = {
    "int": ["0", "1", "2", "3", "+1", "-0", "007", " 2 ", "10000000", str(LABEL_LIMIT - 1), "5"],
    "bad_int": ["-1", "-99999999999999999999", str(LABEL_LIMIT), "99999999999999999999", str(2**64)],
    "name": ["walk", "run", "[/x]", ":x:", "é", "a b", "[bold]", "Walk", "x1"],
    "number": ["1.5", "1e3", "nan", "inf", ".5", "-2.0", "1E+2", "Infinity"],
    "empty": ["", "  "],
}
INTEGER = re.compile(r"^[+-]?[0-9]+$")
NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(inf|infinity|nan)$", re.I)
CLIP_NAMES = ["n0", "[raw]", ":x:", "a b", "é", "[x", "5"]


def expected_labels(texts: list[str]) -> tuple[list[int], str] | None:
    """(class index of every row, "dense" | "remapped" | "names"), or None: the file is refused.
    The rules of skelssl.data.sources.generic's docstring."""
    texts = [t.strip() for t in texts]
    if any(t == "" for t in texts):
        return None
    integer = [INTEGER.match(t) is not None for t in texts]
    if not any(integer):
        if any(NUMBER.match(t) for t in texts):
            return None
        names = sorted(set(texts))
        return [names.index(t) for t in texts], "names"
    if not all(integer):
        return None
    values = [int(t) for t in texts]
    if any(v < 0 or v >= LABEL_LIMIT for v in values):
        return None
    ids = sorted(set(values))
    if ids == list(range(len(ids))):
        return values, "dense"
    return [ids.index(v) for v in values], "remapped"


FAULTS = ["label", "train", "missing", "duplicate", "all_zero", "reserved", "bad_name", "mangle"]


@st.composite
def labels_case(draw: Any) -> dict:
    """A labels file: valid in about half of the examples, else with one fault of `FAULTS`."""
    fault = draw(st.sampled_from(["none"] * 7 + FAULTS), label="fault")
    kind_ = draw(st.sampled_from(["int", "int", "name"]), label="label kind")
    names = draw(st.lists(st.sampled_from(CLIP_NAMES), min_size=1, max_size=6, unique=True))
    if kind_ == "int":
        label = st.one_of(st.integers(0, 3).map(str), st.sampled_from(LABEL_TEXTS["int"]))
    else:
        label = st.one_of(st.sampled_from(LABEL_TEXTS["name"]), st.text(st.characters(categories=("L",)), min_size=1, max_size=5))
    rows = [[name, draw(label), draw(st.sampled_from(["0", "1"]))] for name in names]
    clips = {name: draw(st.sampled_from(["ok", "ok", "ok", "zero_frame"])) for name in CLIP_NAMES}
    k = draw(st.integers(0, len(rows) - 1))
    if fault == "label":
        other = [c for c in sorted(LABEL_TEXTS) if c != kind_ and not (kind_ == "name" and c == "number")]
        rows[k][1] = draw(st.one_of(st.sampled_from([t for c in other for t in LABEL_TEXTS[c]]),
                                    st.integers(-(10**21), -1).map(str), st.integers(LABEL_LIMIT, 10**21).map(str)))
    elif fault == "train":
        rows[k][2] = draw(st.sampled_from(["2", "", "yes", "-1", " 1x"]))
    elif fault == "missing":
        rows.insert(k, ["missing", draw(label), "1"])
    elif fault == "duplicate":
        rows.append([rows[k][0], draw(label), "0"])
    elif fault == "all_zero":
        clips[rows[k][0]] = "all_zero"
    elif fault == "bad_name":
        rows[k][0] = draw(st.sampled_from(["sub/x", "..", ".", " ", ""]))
    return {
        "rows": [tuple(r) for r in rows],
        "clips": clips,
        "on_error": draw(st.sampled_from(["fail", "skip"])),
        "extra": draw(st.sampled_from(["frames", "class_name", "offset", "original_label"])) if fault == "reserved"
        else draw(st.sampled_from([None, None, "subject", "[/x]", ":x:"])),
        "mangle": draw(st.sampled_from(["bytes", "truncate", "header", "bytes"])) if fault == "mangle"
        else draw(st.sampled_from(["none"] * 5 + ["blank_lines"])),
        "cut": draw(st.floats(0, 1)),
        "junk": draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"\x00", b"\"", b",", b"\n", b"\xed\xa0\x80"])),
    }


def write_labels_dataset(folder: Path, case: dict) -> bytes:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, state in case["clips"].items():
        data = clip(rng)
        if state == "zero_frame":
            data[3] = 0
        elif state == "all_zero":
            data[:] = 0
        np.save(folder / f"{name}.npy", data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["name", "label", "xsub_train"] + ([case["extra"]] if case["extra"] else [])
    writer.writerow(header)
    for k, (name, label, train) in enumerate(case["rows"]):
        writer.writerow([name, label, train] + ([str(k)] if case["extra"] else []))
    raw = buffer.getvalue().encode("utf-8")
    cut = int(case["cut"] * len(raw))
    if case["mangle"] == "bytes":
        raw = raw[:cut] + case["junk"] + raw[cut:]
    elif case["mangle"] == "truncate":
        raw = raw[:cut]
    elif case["mangle"] == "blank_lines":
        raw = raw.replace(b"\n", b"\n\n  \n")
    elif case["mangle"] == "header":
        raw = b"label,name" + raw[raw.index(b"\n"):]
    (folder / "labels.csv").write_bytes(raw)
    return raw


def expected_ingest(case: dict) -> tuple[list[tuple[str, int]], str] | None:
    """The index rows (name, label) and the label kind, or None: ingest must fail. Only for
    unmangled files (or blank lines, which are skipped)."""
    rows = case["rows"]
    names = [r[0] for r in rows]
    if len(set(names)) != len(names) or any(r[2] not in ("0", "1") for r in rows):
        return None
    if any("/" in n or n.strip() in ("", ".", "..") for n in names):
        return None
    if case["extra"] in ("frames", "class_name", "offset", "original_label"):
        return None
    labels = expected_labels([r[1] for r in rows])
    if labels is None:
        return None
    values, how = labels
    kept = []
    for (name, _, _), value in zip(rows, values, strict=True):
        if name not in case["clips"] or case["clips"][name] == "all_zero":
            if case["on_error"] == "fail":
                return None
            continue
        kept.append((name, value))
    return (kept, how) if kept else None


@fuzz_settings(2.0)
@given(case=labels_case())
def test_generic_labels(case: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        params = copy.deepcopy(BASE_PARAMS)
        params["ingest"]["on_error"] = case["on_error"]
        cwd = workspace(root, "raw", "ingest", params)
        raw = write_labels_dataset(cwd / "data", case)
        exact = case["mangle"] in ("none", "blank_lines")
        expected = expected_ingest(case) if exact else None
        before = snapshot(root)
        args = ["ingest", "--", "data", "out"]
        result = invoke(cwd, args)
        message = error_message(args, result)
        OUTCOMES[f"labels file {'unmangled' if exact else 'mangled'}, "
                 f"{(expected[1] + ' expected') if expected else 'refusal expected' if exact else 'any'}: exit {result.exit_code}"] += 1
        if message is None:
            assert not changes(before, snapshot(root), root, [cwd / "out"]), _describe(args, result)
            assert not exact or expected is not None, f"labels accepted that must be refused ({raw!r}): {_describe(args, result)}"
            index = check_ingest_output(cwd / "out")
            labels = index["label"].to_list()
            assert index["label"].dtype == pl.Int64, index.schema
            if exact:
                kept, how = expected
                assert list(zip(index["name"].to_list(), labels, strict=True)) == kept, (raw, index)
                k = 1 + max(expected_labels([r[1] for r in case["rows"]])[0])
                assert set(labels) <= set(range(k))
                if case["on_error"] == "fail":
                    assert set(labels) == set(range(k)), (raw, index)
                assert ("original_label" in index.columns) == (how == "remapped"), index.columns
                assert ("class_name" in index.columns) == (how == "names"), index.columns
            else:
                assert min(labels) >= 0 and max(labels) < LABEL_LIMIT
            check_later_stages(cwd, cwd / "out")
            return
        assert not changes(before, snapshot(root), root), f"a failed ingest changed {changes(before, snapshot(root), root)}"
        assert expected is None, f"a valid labels file was refused ({raw!r}): {_describe(args, result)}"
        assert "data/" in message or "in data " in message, f"the message does not name the file: {_describe(args, result)}"
        texts = [c for r in case["rows"] for c in r[:2]] + list(case["clips"])
        assert_literal(message, texts, args, result)
