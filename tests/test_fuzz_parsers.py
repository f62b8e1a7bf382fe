"""Property-based fuzzing of the dataset parsers (hypothesis).

Every fuzzed file must either parse into a well-formed result or raise `ParseError` naming the
file and a line of it: no other exception, no hang (an alarm per call and a hypothesis deadline),
no partial output (a per-parser check of what was returned). Files are mutations of a small valid
seed document: truncations, garbage tokens, NaN/inf/out-of-range numbers, absurd counts, line
edits, line-end changes, empty files and binary junk.

Adding a parser is one entry in `PARSERS`: `Case(parse_fn, file name, seed bytes[, check])`.
The example budget (`TOTAL_EXAMPLES`) is shared by all parsers to keep the file fast.
"""

from __future__ import annotations

import io
import pickle
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelssl.data.ntu import SkeletonFile, read_skeleton
from skelssl.data.ntu_format import BodyFrame, format_skeleton
from skelssl.errors import ParseError
from skelssl.data.ntu_parse import read_skeleton_fast

TOTAL_EXAMPLES = 200
CALL_SECONDS = 5  # a parser call taking longer counts as a hang


# ------------------------------------------------------------------ the harness


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise TimeoutError if the block runs longer than `seconds` (main thread, Unix)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_parses_or_parse_error(parse_fn: Callable[[Path], Any], path: Path,
                                 min_line: int = 1) -> Any:
    """Call `parse_fn(path)`: return its result, or None after a ParseError that names `path`
    and a line between `min_line` and one past the file's last line. Anything else fails."""
    lines = path.read_bytes().count(b"\n") + 1
    try:
        with alarm(CALL_SECONDS):
            return parse_fn(path)
    except ParseError as exc:
        assert exc.path == path, f"error names {exc.path}, not {path}"
        assert isinstance(exc.line, int) and min_line <= exc.line <= lines + 1, str(exc)
        assert str(exc).startswith(f"{path}:{exc.line}: ") and exc.message.strip(), str(exc)
        return None
    except Exception as exc:  # noqa: BLE001 (the point of the harness)
        pytest.fail(f"{parse_fn.__name__}({path.name}) raised {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Case:
    parse: Callable[[Path], Any]
    filename: str  # some parsers read meaning from the file name
    seed: bytes  # a valid document the mutations start from
    check: Callable[[Path, Any], None] = lambda path, result: None  # the result is whole
    min_line: int = 1  # lowest line an error may name (0 = "the whole file")
    weight: int = 1  # share of the example budget
    known_bug: str = ""  # a failure found by this file and not fixed yet: the test is xfail(strict)


# ------------------------------------------------------------------ mutations

GARBAGE = [b"abc", b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e999", b"-1e400", b"3.5e38",
           b"1e-999", b"0x1p3", b"1_0", b"--1", b"1.2.3", b"+", b".", b"e5", b"9" * 40,
           b"-" + b"9" * 25, b"\xff\xfe", b"\x00", b"1,5", b'"1"', b"1e", b"0.1e+"]
NUMBERS = [b"nan", b"-inf", b"Infinity", b"1e999", b"3.5e38", b"-1e39", b"1e-999", b"0x10",
           b"1.5e", b"12345678901234567890123", b"-0", b"1e22", b"4e38"]
ABSURD_COUNTS = [b"-1", b"0", b"1", b"25.0", b"1e3", b"99999999999999999999999", b"2147483648",
                 b"9223372036854775808", b"10001", b"21", b"24", b"26", b"+3", b"", b"3 3"]
TOKEN = re.compile(rb"[^\s,;]+")


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "token", "number", "count", "lines", "newlines",
                                 "append", "empty", "binary"]))
    lines = seed.split(b"\n")
    if kind == "truncate":
        return seed[: draw(st.integers(0, len(seed)))]
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b" \r\n\t", b"\x00", b"\n\n\n"]))
    if kind == "binary":
        return draw(st.binary(max_size=512))
    if kind == "append":
        junk = draw(st.sampled_from([b"17\n", b"\n\n  \n", b"\x00\x01", b"1 2 3\n"]) | st.binary(max_size=64))
        return seed + junk
    if kind == "newlines":
        form = draw(st.sampled_from([b"\r\n", b"\r", b"\n\n", b" \n", b"\t\n"]))
        return seed.replace(b"\n", form)
    k = draw(st.integers(0, len(lines) - 1))
    if kind == "lines":
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "blank"]))
        j = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[k]
        elif op == "duplicate":
            lines.insert(k, lines[k])
        elif op == "swap":
            lines[k], lines[j] = lines[j], lines[k]
        else:
            lines[k] = b""
        return b"\n".join(lines)
    if kind == "count":
        counts = [i for i, line in enumerate(lines) if line.strip().isdigit()] or [k]
        k = draw(st.sampled_from(counts))
        lines[k] = draw(st.sampled_from(ABSURD_COUNTS))
        return b"\n".join(lines)
    if kind == "number":  # one of the first three numbers of a line (coordinates, usually)
        rows = [i for i, line in enumerate(lines) if len(TOKEN.findall(line)) >= 3] or [k]
        k = draw(st.sampled_from(rows))
        spans = list(TOKEN.finditer(lines[k]))[:3] or [None]
        bad = draw(st.sampled_from(NUMBERS))
    else:
        spans = list(TOKEN.finditer(lines[k])) or [None]
        bad = draw(st.sampled_from(GARBAGE) | st.binary(min_size=1, max_size=12))
    span = draw(st.sampled_from(spans))
    start, stop = (span.start(), span.end()) if span else (0, 0)
    lines[k] = lines[k][:start] + bad + lines[k][stop:]
    return b"\n".join(lines)


# ------------------------------------------------------------------ parsers


def _ntu_seed() -> bytes:
    rng = np.random.default_rng(0)

    def body(body_id: int) -> BodyFrame:
        return BodyFrame(body_id, np.round(rng.uniform(-1, 1, (25, 3)) + [0, 0, 3], 4), np.full(25, 2))

    return format_skeleton([[body(5)], [body(5), body(9)], []]).encode()


def _check_ntu(path: Path, sk: SkeletonFile) -> None:
    assert len(sk.body_counts) == sk.num_frames
    assert sum(len(b.frames) for b in sk.bodies) == int(sk.body_counts.sum())
    valid = int(np.count_nonzero(sk.body_counts))
    for b in sk.bodies:
        assert b.joints.shape == (len(b.frames), 25, 3) and b.joints.dtype == np.float32
        assert np.isfinite(b.joints).all(), "non-finite coordinates in the output"
        assert len(b.frames) and 0 <= b.frames.min() and b.frames.max() < valid


def _check_ntu_fast(path: Path, sk: SkeletonFile) -> None:
    """The fast path parsed it: so must the strict parser, to the same bits."""
    _check_ntu(path, sk)
    strict = read_skeleton(path)
    assert [b.body_id for b in sk.bodies] == [b.body_id for b in strict.bodies]
    assert sk.body_counts.tobytes() == strict.body_counts.tobytes()
    for a, b in zip(sk.bodies, strict.bodies, strict=True):
        assert a.frames.tobytes() == b.frames.tobytes() and a.joints.tobytes() == b.joints.tobytes()


def _finite(path: Path, result: Any) -> None:
    """Every array in the result is finite (numbers, not NaN/inf, reached the output)."""
    arrays = result if isinstance(result, tuple | list) else [result]
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            assert np.isfinite(a).all(), "non-finite values in the output"


def _rows(count: int, values: int, sep: str = " ", first: str = "") -> bytes:
    rng = np.random.default_rng(values)
    lines = [first.format(k) + sep.join(f"{v:.4f}" for v in rng.uniform(-1, 3, values)) for k in range(count)]
    return ("\n".join(lines) + "\n").encode()


def _npz_seed() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 150)).astype(np.float32)
    x[0, 3] = 0  # frames after the valid length are zero
    out = io.BytesIO()
    np.savez(out, x_train=x, y_train=np.eye(3)[[0, 2]], x_test=x[:1], y_test=np.eye(3)[[1]])
    return out.getvalue()


def _pyskl_seed() -> bytes:
    ann = [{"frame_dir": d, "label": k, "keypoint": np.zeros((1, 4, 25, 3), np.float32) + k,
            "total_frames": 4} for k, d in enumerate(("a", "b"))]
    return pickle.dumps({"split": {"xsub_train": ["a"], "xsub_val": ["b"]}, "annotations": ann},
                        protocol=4)




def _other_parsers() -> dict[str, Case]:
    """The other sources' file readers (src/skelssl/data/sources), one entry each. `known_bug`:
    what this file found and the owner has not fixed yet (remove it with the fix)."""
    from skelssl.data import interchange
    from skelssl.data.sources import generic, msr_action3d, pku_mmd, sbu, utkinect

    phase1 = pku_mmd.VIDEO_NAME[1]
    return {
        "msr_action3d": Case(msr_action3d.read_msr, "a01_s01_e01_skeleton3D.txt",
                             _rows(40, 4), _finite),
        "sbu": Case(sbu.read_sbu, "skeleton_pos.txt", _rows(3, 90, ",", "{},"), _finite),
        "utkinect_joints": Case(utkinect.read_joints, "joints_s01_e01.txt",
                                _rows(3, 60, " ", "{} "), _finite),
        "utkinect_labels": Case(utkinect.read_labels, "actionLabel.txt",
                                b"s01_e01\nwalk: 252 390\nsitDown: 572 686\ns01_e02\nwalk: NaN NaN\n"),
        "pku_skeleton": Case(pku_mmd.read_skeleton, "0002-L.txt", _rows(3, 150), _finite),
        "pku_labels": Case(pku_mmd.read_labels, "0002-L.txt", b"1,10,50,1\n2,60,90,2\n", min_line=0),
        "pku_split": Case(lambda p: pku_mmd.read_split(p, phase1), "cross-subject.txt",
                          b"Training videos:\n0002-L, 0003-M\nValidataion videos:\n0004-R\n", min_line=0),
        "generic_labels": Case(generic.read_labels, "labels.csv",
                               b"name,label,subject,xsub_train\nwalk_001,0,1,1\nwalk_002,1,2,0\n"),
        "ctrgcn_npz": Case(lambda p: list(interchange.read_npz_part(p, "train")), "ntu60.npz",
                           _npz_seed(), min_line=0),
        "pyskl": Case(interchange.pyskl_annotations, "ntu60_3danno.pkl", _pyskl_seed(), min_line=0),
    }


NTU = _ntu_seed()
PARSERS: dict[str, Case] = {
    "ntu_strict": Case(read_skeleton, "S001C001P001R001A001.skeleton", NTU, _check_ntu, weight=3),
    "ntu_fast": Case(read_skeleton_fast, "S001C001P001R001A001.skeleton", NTU, _check_ntu_fast, weight=3),
    **_other_parsers(),
}
UNIT = max(1, TOTAL_EXAMPLES // sum(case.weight for case in PARSERS.values()))


def _params() -> list[Any]:
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=case.known_bug)]
                         if case.known_bug else []) for name, case in sorted(PARSERS.items())]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_seed_document_parses(workdir, name):
    case = PARSERS[name]
    path = workdir / name / case.filename
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(case.seed)
    result = assert_parses_or_parse_error(case.parse, path, case.min_line)  # also compiles/warms up
    assert result is not None, f"{name}: the seed document must parse"
    case.check(path, result)


@pytest.mark.parametrize("name", _params())
def test_fuzzed_files_parse_or_raise_parse_error(workdir, name):
    case = PARSERS[name]
    path = workdir / f"{name}-fuzz" / case.filename
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(case.seed)
    case.parse(path)  # compile/load numba code outside the per-example deadline

    @settings(max_examples=UNIT * case.weight, deadline=2000, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=mutated(case.seed))
    def fuzz(data: bytes) -> None:
        path.write_bytes(data)
        result = assert_parses_or_parse_error(case.parse, path, case.min_line)
        if result is not None:
            case.check(path, result)

    fuzz()


def test_fast_and_strict_ntu_raise_the_same_error(workdir):
    """Differential check on fixed malformed variants of the seed (both paths, same message)."""
    path = workdir / "diff" / "S001C001P001R001A001.skeleton"
    path.parent.mkdir(exist_ok=True)
    variants = [NTU[:k] for k in (0, 1, 3, 50, 400, len(NTU) // 2, len(NTU) - 3)]
    lines = NTU.split(b"\n")
    lines[6] = b"nan" + lines[6][lines[6].index(b" "):]
    variants += [b"\r\n".join(lines), NTU + b"x\n", NTU.replace(b"\n25\n", b"\n24\n", 1)]
    for data in variants:
        path.write_bytes(data)
        errors = []
        for fn in (read_skeleton, read_skeleton_fast):
            try:
                fn(path)
                errors.append(None)
            except ParseError as exc:
                errors.append(str(exc))
        assert errors[0] == errors[1] and errors[0] is not None, data[:60]
