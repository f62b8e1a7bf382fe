"""Fast NTU byte scanner (`skelssl.data.ntu_parse`): bit-identical to the strict parser on the
files it accepts, strict-parser errors (file + line) on the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.config import SynthesizeParams
from skelssl.data.ntu import SkeletonFile, read_skeleton
from skelssl.data.ntu_format import BodyFrame, format_skeleton
from skelssl.data.synth import synthesize
from skelssl.errors import ParseError
from skelssl.data.ntu_parse import OK, PADDING, _read_padded, read_skeleton_fast, scan_skeleton

from helpers import default_params


def assert_same(fast: SkeletonFile, slow: SkeletonFile) -> None:
    assert fast.path == slow.path and fast.num_frames == slow.num_frames
    assert fast.body_counts.dtype == slow.body_counts.dtype
    assert fast.body_counts.tobytes() == slow.body_counts.tobytes()
    assert [b.body_id for b in fast.bodies] == [b.body_id for b in slow.bodies]
    for a, b in zip(fast.bodies, slow.bodies, strict=True):
        assert a.frames.dtype == b.frames.dtype and a.joints.dtype == b.joints.dtype
        assert a.frames.shape == b.frames.shape and a.joints.shape == b.joints.shape
        assert a.frames.tobytes() == b.frames.tobytes()
        assert a.joints.tobytes() == b.joints.tobytes()  # bit for bit, -0.0 included


def scanned(path: Path) -> int:
    """Status of the scanner alone (OK means the fast path produced the result)."""
    return scan_skeleton(*_read_padded(path))[0]


def write(tmp_path: Path, text: str | bytes, name: str = "S001C001P001R001A001.skeleton") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    return path


def body(body_id: int, seed: int, digits: int = 5) -> BodyFrame:
    rng = np.random.default_rng(seed)
    return BodyFrame(body_id, np.round(rng.uniform(-1, 1, (25, 3)) + [0, 0, 3], digits),
                     np.full(25, 2))


def test_real_files_take_the_fast_path_and_match(real_data):
    files = sorted((real_data("ntu_rgbd") / "skeleton").glob("*.skeleton"))
    assert len(files) == 16
    crlf = [f for f in files if b"\r\n" in f.read_bytes()[:200]]
    assert 0 < len(crlf) < len(files)  # both line ends are covered (SOURCE.md: 5 CRLF files)
    for path in files:
        assert scanned(path) == OK, path.name
        assert_same(read_skeleton_fast(path), read_skeleton(path))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_synthesized_files_match(tmp_path, newline):
    cfg = default_params().synthesize.model_dump()
    cfg.update(classes=7, subjects=2, frames={"min": 10, "max": 14})  # action 7+: two-person ones
    paths = synthesize(SynthesizeParams.model_validate(cfg), tmp_path)
    assert len(paths) == 42
    two_bodies = 0
    for path in paths:
        if newline != "\n":
            path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
        assert scanned(path) == OK
        fast, slow = read_skeleton_fast(path), read_skeleton(path)
        assert_same(fast, slow)
        two_bodies += len(slow.bodies) > 1
    assert two_bodies > 0


def random_token(rng: np.random.Generator, max_digits: int, max_exp: int) -> str:
    digits = "".join(rng.choice(list("0123456789"), size=int(rng.integers(1, max_digits + 1))))
    point = int(rng.integers(0, len(digits) + 1))
    text = digits[:point] + "." + digits[point:] if rng.random() < 0.8 else digits
    if rng.random() < 0.2:
        text += f"{'eE'[int(rng.integers(2))]}{int(rng.integers(-max_exp, max_exp + 1)):+d}"
    return str(rng.choice(["", "-", "+"])) + text


@pytest.mark.parametrize(("max_digits", "max_exp", "fast"), [(15, 5, True), (19, 15, False)])
def test_random_decimal_forms_are_bit_identical(tmp_path, max_digits, max_exp, fast):
    rng = np.random.default_rng(max_digits)
    tokens = iter([random_token(rng, max_digits, max_exp) for _ in range(40 * 25 * 3)])
    lines = ["40"]
    for frame in range(40):
        lines += ["1", f"{frame % 3 + 1} 0 1 1 1 1 0 0.0 0.0 2", "25"]
        lines += [f"{next(tokens)} {next(tokens)} {next(tokens)} 1 2 3 4 1 0 0 0 2" for _ in range(25)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert (scanned(path) == OK) == fast  # mantissas <= 15 digits, |exponent| <= 20: fast path
    strict = read_skeleton(path)
    assert_same(read_skeleton_fast(path), strict)
    values = np.concatenate([b.joints.ravel() for b in strict.bodies])
    assert len(values) == 3000 and np.signbit(values).any() and (values != 0).mean() > 0.9


def test_number_forms_and_edge_values(tmp_path):
    forms = ["1.5e-3", "-.5", "+2.", "-0.0", "12345678.125", "3E2", "-7", "0.100000001490116",
             "9007199254740993", "1e-22", "1e22", "0.3402823466e39", "16777217", "0e999"]
    rows = [f"{forms[k % len(forms)]} {forms[(k + 3) % len(forms)]} {forms[(k + 7) % len(forms)]}"
            " 1 1 1 1 1 0 0 0 2" for k in range(25)]
    text = "1\n1\n5 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "\n".join(rows) + "\n"
    path = write(tmp_path, text)
    fast, slow = read_skeleton_fast(path), read_skeleton(path)
    assert_same(fast, slow)
    assert np.signbit(slow.bodies[0].joints[0, 3, 0])  # "-0.0" keeps its sign on both paths


@pytest.mark.parametrize("text", [
    "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "0.1\t0.2\t0.3 1 1 1 1 1 0 0 0 2\n" * 25,  # tabs
    "1\n1\n12345678901234567890 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "1 2 3 1 1 1 1 1 0 0 0 2\n" * 25,
    "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "0.1234567890123456789 2 3 1 1 1 1 1 0 0 0 2\n" * 25,
    "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "1e-30 2e30 3 1 1 1 1 1 0 0 0 2\n" * 25,
    "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n025\n" + "1 2 3 1 1 1 1 1 0 0 0 2\n" * 25,  # count "025"
    "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "1 2 3 1 1 1 1 1 0 0 0 2\n" * 25 + " \r\n\n \t",
    "1\n1\n7 \xff \x00 1 1 1 0 0.0 0.0 2\n25\n" + "1 2 3 1 1 \x01 1 1 0 0 0 \xfe\n" * 25,
])
def test_unusual_but_valid_files_match_the_strict_parser(tmp_path, text):
    path = write(tmp_path, text)
    assert_same(read_skeleton_fast(path), read_skeleton(path))


def one_body_text(frames: int = 2) -> str:
    return format_skeleton([[body(7, f)] for f in range(frames)])


def edit(text: str, line: int, new: str | None) -> str:
    rows = text.split("\n")
    if new is None:
        del rows[line - 1]
    else:
        rows[line - 1] = new
    return "\n".join(rows)


@pytest.mark.parametrize(("line", "new"), [
    (1, "abc"), (1, "20000"), (1, "2 2"), (2, "21"), (30, ""), (3, "7 0 1 1"),
    (3, "x7 0 1 1 1 1 0 0.0 0.0 2"), (4, "24"), (32, "26"), (6, "0.1 0.2 0.3 1 1 1 1 1 0 0 0"),
    (6, "0.1 0.2 0.3 1 1 1 1 1 0 0 0 2 9"), (6, ""), (7, "0.1 abc 0.3 1 1 1 1 1 0 0 0 2"),
    (7, "0.1 0.2 1-2 1 1 1 1 1 0 0 0 2"), (8, "nan 0.2 0.3 1 1 1 1 1 0 0 0 2"),
    (9, "0.1 1e999 0.3 1 1 1 1 1 0 0 0 2"), (10, None), (57, "0.1 0.2"),
])
def test_malformed_files_raise_the_strict_error(tmp_path, line, new):
    path = write(tmp_path, edit(one_body_text(2), line, new))
    assert scanned(path) != OK
    with pytest.raises(ParseError) as strict:
        read_skeleton(path)
    with pytest.raises(ParseError) as fast:
        read_skeleton_fast(path)
    assert str(fast.value) == str(strict.value)
    assert fast.value.line == strict.value.line >= 1 and str(path) in str(fast.value)


@pytest.mark.parametrize("cut", [1, 2, 100, 1000, -1, -2, -30])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_truncated_files(tmp_path, cut, newline):
    data = one_body_text(2).replace("\n", newline).encode()
    path = write(tmp_path, data[:cut])
    try:
        slow = read_skeleton(path)
    except ParseError as exc:
        with pytest.raises(ParseError) as fast:
            read_skeleton_fast(path)
        assert str(fast.value) == str(exc)
    else:  # cutting only the last line end (or a CR) leaves a valid file
        assert_same(read_skeleton_fast(path), slow)


def test_empty_missing_and_body_free_files(tmp_path):
    with pytest.raises(ParseError, match="empty file"):
        read_skeleton_fast(write(tmp_path, b""))
    with pytest.raises(ParseError) as info:
        read_skeleton_fast(tmp_path / "missing.skeleton")
    assert info.value.line == 0
    for text in ("0", "0\n", "2\n0\n0\n"):
        path = write(tmp_path, text, "z.skeleton")
        assert scanned(path) == OK
        assert_same(read_skeleton_fast(path), read_skeleton(path))


def test_scanner_checks_its_buffer():
    data = np.frombuffer(b"0\n", dtype=np.uint8)
    short = np.zeros(8, dtype=np.uint8)
    short[:2] = data
    assert scan_skeleton(short, 2)[0] != OK  # less than PADDING spare bytes
    buf = np.zeros(2 + PADDING + 6, dtype=np.uint8)
    buf[:2] = data
    status, frames, counts, ids, offsets, body_frames, xyz = scan_skeleton(buf, 2)
    assert (status, frames, len(counts), len(ids), offsets.tolist(), xyz.shape) == (OK, 0, 0, 0, [0], (0, 3))
    assert (buf[2:] == 10).all()


@pytest.mark.parametrize(("token", "ok"), [("3.4028234e38", True), ("-3.4028235e38", True),
                                            ("3.5e38", False), ("-1e39", False), ("1e308", False)])
def test_coordinates_must_fit_float32(tmp_path, token, ok):
    text = "1\n1\n7 0 1 1 1 1 0 0.0 0.0 2\n25\n" + "1 2 3 1 1 1 1 1 0 0 0 2\n" * 3
    text += f"0.5 {token} 1 1 1 1 1 1 0 0 0 2\n" + "1 2 3 1 1 1 1 1 0 0 0 2\n" * 21
    path = write(tmp_path, text)
    if ok:
        sk = read_skeleton_fast(path)
        assert np.isfinite(sk.bodies[0].joints).all()
        assert_same(sk, read_skeleton(path))
    else:
        for fn in (read_skeleton, read_skeleton_fast):
            with pytest.raises(ParseError, match="outside the float32 range") as info:
                fn(path)
            assert info.value.line == 8
