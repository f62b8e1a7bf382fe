"""NTU `.skeleton` parser and sample names (methods.md §7.1, §8.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.data.ntu import (
    SampleName,
    _Reader,
    parse_sample_name,
    read_skeleton,
)
from skelssl.data.ntu_format import BodyFrame, format_skeleton, sample_name, write_skeleton
from skelssl.errors import ParseError

# SOURCE.md table: file -> (frames, max bodies)
REAL = {
    "S001C001P001R001A001": (103, 1),
    "S001C001P001R001A002": (158, 1),
    "S001C001P001R001A003": (104, 1),
    "S001C001P001R001A004": (99, 1),
    "S001C001P001R001A005": (54, 1),
    "S001C001P001R001A011": (82, 1),
    "S001C003P008R002A058": (70, 2),
    "S002C001P003R001A003": (100, 1),
    "S003C001P015R001A034": (71, 1),
    "S004C002P003R001A017": (124, 1),
    "S001C001P001R001A050": (74, 2),
    "S017C003P020R002A054": (42, 2),
    "S017C003P020R002A055": (66, 2),
    "S017C003P020R002A056": (80, 2),
    "S017C003P020R002A057": (76, 2),
    "S017C003P020R002A058": (65, 2),
}


def body(body_id: int, seed: int) -> BodyFrame:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-1, 1, size=(25, 3)) + [0, 0, 3]
    return BodyFrame(body_id, np.round(xyz, 5), np.full(25, 2))


def one_body_text(frames: int = 2, newline: str = "\n") -> str:
    return format_skeleton([[body(7, f)] for f in range(frames)], newline)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def write(tmp_path: Path, text: str | bytes, name: str = "S001C001P001R001A001.skeleton") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("ascii") if isinstance(text, str) else text)
    return path


def expect_error(path: Path, line: int, words: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        read_skeleton(path)
    err = info.value
    assert err.line == line, str(err)
    assert str(path) in str(err)
    assert words in err.message, err.message
    return err


# ------------------------------------------------------------------ well-formed files


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_round_trip_lf_and_crlf(tmp_path, newline):
    frames = [[body(11, 0)], [body(11, 1), body(22, 2)], [body(22, 3)]]
    path = tmp_path / "x.skeleton"
    write_skeleton(path, frames, newline=newline)
    sk = read_skeleton(path)
    assert sk.num_frames == 3
    assert sk.body_counts.tolist() == [1, 2, 1]
    assert [b.body_id for b in sk.bodies] == [11, 22]
    assert sk.bodies[0].frames.tolist() == [0, 1]
    assert sk.bodies[1].frames.tolist() == [1, 2]
    assert sk.bodies[0].joints.dtype == np.float32 and sk.bodies[0].frames.dtype == np.int32
    expected = np.stack([frames[0][0].xyz, frames[1][0].xyz]).astype(np.float32)
    np.testing.assert_array_equal(sk.bodies[0].joints, expected)
    np.testing.assert_array_equal(sk.bodies[1].joints[1], frames[2][0].xyz.astype(np.float32))


def test_zero_body_frames_are_counted_but_not_numbered(tmp_path):
    frames = [[], [body(5, 0)], [], [], [body(5, 1), body(6, 2)], []]
    path = tmp_path / "z.skeleton"
    write_skeleton(path, frames)
    sk = read_skeleton(path)
    assert sk.num_frames == 6
    assert sk.body_counts.tolist() == [0, 1, 0, 0, 2, 0]
    assert sk.bodies[0].frames.tolist() == [0, 1]
    assert sk.bodies[1].frames.tolist() == [1]


def test_body_ids_are_tracked_across_frames_in_order_of_first_appearance(tmp_path):
    ids = [[30], [30, 10], [10, 20], [20, 30]]  # 30 vanishes in frame 2 and comes back
    frames = [[body(i, 10 * f + i) for i in row] for f, row in enumerate(ids)]
    sk = read_skeleton(write(tmp_path, format_skeleton(frames)))
    assert [b.body_id for b in sk.bodies] == [30, 10, 20]
    tracks = {b.body_id: b.frames.tolist() for b in sk.bodies}
    assert tracks == {30: [0, 1, 3], 10: [1, 2], 20: [2, 3]}
    np.testing.assert_array_equal(sk.bodies[0].joints[2], frames[3][1].xyz.astype(np.float32))


def test_trailing_whitespace_blank_lines_and_no_final_newline(tmp_path):
    text = one_body_text(2)
    padded = "\n".join(line + " \t" for line in lines_of(text)) + "\n\n  \n"
    a = read_skeleton(write(tmp_path, padded, "a.skeleton"))
    b = read_skeleton(write(tmp_path, text.rstrip("\n"), "b.skeleton"))
    c = read_skeleton(write(tmp_path, text, "c.skeleton"))
    for sk in (a, b):
        np.testing.assert_array_equal(sk.bodies[0].joints, c.bodies[0].joints)


def test_tab_separated_coordinates_use_the_exact_fallback(tmp_path):
    text = one_body_text(2)
    tabbed = text.replace(" ", "\t")
    sk = read_skeleton(write(tmp_path, tabbed))
    ref = read_skeleton(write(tmp_path, text, "ref.skeleton"))
    np.testing.assert_array_equal(sk.bodies[0].joints, ref.bodies[0].joints)


def test_zero_frames_and_no_bodies_is_well_formed(tmp_path):
    assert read_skeleton(write(tmp_path, "0\n")).bodies == []
    sk = read_skeleton(write(tmp_path, "2\n0\n0\n", "b.skeleton"))
    assert sk.bodies == [] and sk.body_counts.tolist() == [0, 0]


# ------------------------------------------------------------------ malformed files
# one_body_text(2): line 1 frames, 2 body count, 3 body line, 4 joint count, 5-29 joints,
# 30 body count of frame 2, 31 body line, 32 joint count, 33-57 joints.


def edit(text: str, line: int, new: str | None) -> str:
    rows = lines_of(text)
    if new is None:
        del rows[line - 1]
    else:
        rows[line - 1] = new
    return "\n".join(rows)


def test_empty_and_blank_files(tmp_path):
    expect_error(write(tmp_path, b""), 1, "empty file")
    expect_error(write(tmp_path, " \r\n\n", "b.skeleton"), 1, "empty file")


@pytest.mark.parametrize(
    ("line", "new", "words"),
    [
        (1, "abc", "frame count"),
        (1, "-2", "frame count"),
        (1, "2.0", "frame count"),
        (1, "20000", "exceeds the limit"),
        (1, "2 2", "frame count"),
        (2, "-1", "body count of frame 1"),
        (2, "21", "exceeds the limit"),
        (30, "", "body count of frame 2"),
        (3, "7 0 1 1", "body line"),
        (3, "x7 0 1 1 1 1 0 0.0 0.0 2", "bodyID"),
        (4, "24", "joint count 24"),
        (32, "26", "joint count 26"),
        (6, "0.1 0.2 0.3 1 1 1 1 1 0 0 0", "11 fields"),
        (6, "0.1 0.2 0.3 1 1 1 1 1 0 0 0 2 9", "13 fields"),
        (6, "", "0 fields"),
        (7, "0.1 abc 0.3 1 1 1 1 1 0 0 0 2", "non-numeric coordinate 'abc'"),
        (7, "0.1 0.2 0x1p3 1 1 1 1 1 0 0 0 2", "non-numeric"),
        (7, "0.1 1_0 0.3 1 1 1 1 1 0 0 0 2", "non-numeric"),
        (7, "0.1 0.2 1-2 1 1 1 1 1 0 0 0 2", "non-numeric"),
        (8, "nan 0.2 0.3 1 1 1 1 1 0 0 0 2", "non-numeric"),
        (9, "0.1 1e999 0.3 1 1 1 1 1 0 0 0 2", "non-finite"),
        (2, "\xff", "body count of frame 1"),
    ],
)
def test_malformed_line_is_named(tmp_path, line, new, words):
    path = write(tmp_path, edit(one_body_text(2), line, new).encode("latin-1"))
    expect_error(path, line, words)


def test_other_joint_fields_are_not_parsed(tmp_path):
    text = edit(one_body_text(2), 6, "0.1 0.2 0.3 a b c d e f g h i")
    sk = read_skeleton(write(tmp_path, text))
    np.testing.assert_allclose(sk.bodies[0].joints[0, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_truncated_files_name_the_missing_line(tmp_path, newline):
    text = one_body_text(2)
    rows = lines_of(text)
    cut_joints = "\n".join(rows[:40])  # frame 2 stops after joint line 8 (line 40)
    expect_error(write(tmp_path, cut_joints.replace("\n", newline)), 41, "joint line 9 of 25")
    cut_joints_nl = "\n".join(rows[:40]) + "\n"
    expect_error(write(tmp_path, cut_joints_nl, "b.skeleton"), 41, "unexpected end of file")
    header_only = write(tmp_path, "3" + newline, "c.skeleton")
    expect_error(header_only, 2, "body count of frame 1")
    missing_frame = edit(text, 1, "3")  # declares 3 frames, holds 2
    expect_error(write(tmp_path, missing_frame, "d.skeleton"), 58, "unexpected end of file")
    no_body_line = "\n".join(rows[:2])
    expect_error(write(tmp_path, no_body_line, "e.skeleton"), 3, "body 1 of frame 1")


def test_missing_joint_line_desync_points_at_the_first_bad_line(tmp_path):
    text = edit(one_body_text(2), 10, None)  # frame 1 has 24 joint lines
    # line 29 is now frame 2's body count: seen as joint line 25 with 1 field
    expect_error(write(tmp_path, text), 29, "joint line 25 of 25 has 1 fields")


def test_trailing_junk(tmp_path):
    text = one_body_text(2) + "\n  \n17\n"
    expect_error(write(tmp_path, text), 60, "after the last frame")
    expect_error(write(tmp_path, edit(one_body_text(2), 1, "1")), 30, "after the last frame")


def test_duplicate_body_id_in_one_frame(tmp_path):
    path = write(tmp_path, format_skeleton([[body(4, 0), body(4, 1)]]))
    expect_error(path, 30, "appears twice")


def test_earliest_fault_wins(tmp_path):
    text = edit(one_body_text(2), 8, "0.1 bad 0.3 1 1 1 1 1 0 0 0 2")
    text = edit(text, 32, "30")  # a later structural error
    expect_error(write(tmp_path, text), 8, "non-numeric")


def test_unreadable_path_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError) as info:
        read_skeleton(tmp_path / "missing.skeleton")
    assert info.value.line == 0


def strict_only(monkeypatch):
    monkeypatch.setattr(_Reader, "xyz", lambda self: self.xyz_slow(self.joint_lines()))


def test_number_forms_and_strict_path_agree(tmp_path, monkeypatch):
    forms = ["1.5e-3", "-.5", "+2.", "-0.0", "12345678.125", "3E2", "-7", "0.100000001490116"]
    text = one_body_text(2)
    for k, form in enumerate(forms):
        text = edit(text, 5 + k, f"{form} {forms[-1 - k]} {form} 1 1 1 1 1 0 0 0 2")
    path = write(tmp_path, text)
    fast = read_skeleton(path).bodies[0].joints
    want = np.array([[float(f), float(forms[-1 - k]), float(f)] for k, f in enumerate(forms)])
    np.testing.assert_array_equal(fast[0, : len(forms)], want.astype(np.float32))
    assert np.signbit(fast[0, 3, 0])  # -0.0 keeps its sign
    strict_only(monkeypatch)
    np.testing.assert_array_equal(read_skeleton(path).bodies[0].joints, fast)


# ------------------------------------------------------------------ sample names


def test_parse_sample_name():
    got = parse_sample_name("S017C003P020R002A058.skeleton")
    assert got == SampleName("S017C003P020R002A058", 17, 3, 20, 2, 58)
    assert parse_sample_name(sample_name(1, 2, 3, 1, 120)).action == 120


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("S01C001P001R001A001", "not an NTU sample name"),
        ("S001C001P001R001A001.txt", "not an NTU sample name"),
        ("s001c001p001r001a001", "not an NTU sample name"),
        ("x/S001C001P001R001A001", "not an NTU sample name"),
        ("", "not an NTU sample name"),
        ("S000C001P001R001A001", "setup 0 is outside 1..32"),
        ("S001C004P001R001A001", "camera 4 is outside 1..3"),
        ("S001C001P107R001A001", "performer 107 is outside 1..106"),
        ("S001C001P001R003A001", "replication 3 is outside 1..2"),
        ("S001C001P001R001A121", "action 121 is outside 1..120"),
    ],
)
def test_bad_sample_names(bad, words):
    with pytest.raises(ValueError, match=words):
        parse_sample_name(bad)


# ------------------------------------------------------------------ real NTU files


def test_real_ntu_files(real_data):
    root = real_data("ntu_rgbd")
    files = sorted((root / "skeleton").glob("*.skeleton"))
    assert sorted(f.name.removesuffix(".skeleton") for f in files) == sorted(REAL)
    for path in files:
        sk = read_skeleton(path)
        frames, max_bodies = REAL[path.stem]
        assert sk.num_frames == frames, path.name
        assert int(sk.body_counts.max()) == max_bodies, path.name
        assert (sk.body_counts > 0).all()
        assert sum(len(b.frames) for b in sk.bodies) == int(sk.body_counts.sum())
        assert all(np.isfinite(b.joints).all() for b in sk.bodies)
        assert parse_sample_name(path.name).name == path.stem


def test_real_a001_matches_official_reader(real_data):
    root = real_data("ntu_rgbd")
    npy = root / "npy_official_reader" / "S001C001P001R001A001.skeleton.npy"
    ref = np.load(npy, allow_pickle=True).item()  # trusted fixture (a pickled dict)
    sk = read_skeleton(root / "skeleton" / "S001C001P001R001A001.skeleton")
    assert sk.body_counts.tolist() == list(ref["nbodys"])
    assert len(sk.bodies) == 1
    np.testing.assert_array_equal(sk.bodies[0].joints, ref["skel_body0"].astype(np.float32))
    np.testing.assert_allclose(sk.bodies[0].joints, ref["skel_body0"], rtol=1e-6, atol=0)


def test_real_files_strict_path_agrees(real_data, monkeypatch):
    files = sorted((real_data("ntu_rgbd") / "skeleton").glob("*.skeleton"))
    fast = [read_skeleton(path) for path in files]
    strict_only(monkeypatch)
    for path, sk in zip(files, fast):
        slow = read_skeleton(path)
        assert [b.body_id for b in slow.bodies] == [b.body_id for b in sk.bodies]
        for a, b in zip(slow.bodies, sk.bodies):
            np.testing.assert_array_equal(a.joints, b.joints)
            np.testing.assert_array_equal(a.frames, b.frames)
