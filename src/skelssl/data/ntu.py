"""Reading NTU RGB+D `.skeleton` files and sample names (methods.md §7.1, §7.2 step 1, §8.1).

The file layout (§8.1): a frame count; per frame a body count (may be 0); per body one line of
10 body fields (the first is the 64-bit bodyID), a joint count (always 25) and 25 joint lines of
12 fields whose first three are camera-space x, y, z in metres.

Like the CTR-GCN/SGN step 1 (`get_raw_skes_data.py`), frames with 0 bodies are dropped from the
frame numbering and bodies are grouped into tracks by bodyID. Unlike it, a track keeps the true
(valid-)frame index of every appearance; the reference's own indexing of tracks with gaps is
reproduced by `skelssl.data.denoise`.

Parsing is vectorised: the file is read once as bytes, tokenised with numpy, the structure is
walked over the few count/body lines in Python, and all x, y, z tokens of the file are converted
by one `np.fromstring` call. A strict per-line Python parser is used only when that fast
conversion fails, to find the offending line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from skelssl.errors import ParseError

NUM_JOINTS = 25
BODY_FIELDS = 10
JOINT_FIELDS = 12
MAX_FRAMES = 10_000  # NTU sequences have at most a few hundred frames
MAX_BODIES = 20  # per frame; Kinect v2 tracks at most 6

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
# §7.1 ranges: setup 1-32, camera 1-3, performer 1-106, replication 1-2, action 1-120.
_RANGES = {"setup": 32, "camera": 3, "performer": 106, "replication": 2, "action": 120}

_DECIMAL = np.zeros(256, dtype=bool)  # bytes a plain decimal float token may contain
_DECIMAL[list(b"0123456789.+-eE \t\n")] = True
_DECIMAL_CHARS = b"0123456789.+-eE"


@dataclass(frozen=True)
class SampleName:
    name: str  # SsssCcccPpppRrrrAaaa, without extension
    setup: int
    camera: int
    performer: int
    replication: int
    action: int  # 1-based


def parse_sample_name(name: str) -> SampleName:
    """Parse `SsssCcccPpppRrrrAaaa[.skeleton]`; ValueError unless it matches with §7.1 ranges."""
    stem = name[: -len(".skeleton")] if name.endswith(".skeleton") else name
    match = _NAME.fullmatch(stem)
    if match is None:
        raise ValueError(f"{name!r} is not an NTU sample name (expected SsssCcccPpppRrrrAaaa)")
    values = dict(zip(_RANGES, (int(g) for g in match.groups())))
    for key, top in _RANGES.items():
        if not 1 <= values[key] <= top:
            raise ValueError(f"{name!r}: {key} {values[key]} is outside 1..{top}")
    return SampleName(name=stem, **values)


@dataclass
class BodyTrack:
    body_id: int
    frames: np.ndarray  # (n,) int32, indices among the frames with >= 1 body
    joints: np.ndarray  # (n, 25, 3) float32 x, y, z


@dataclass
class SkeletonFile:
    path: Path
    num_frames: int  # declared frame count, frames with 0 bodies included
    body_counts: np.ndarray  # (num_frames,) int32
    bodies: list[BodyTrack]  # in order of first appearance


def _fits_float32(values: np.ndarray | float) -> np.ndarray:
    """Finite, and still finite after rounding to float32 (the output dtype)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.isfinite(np.asarray(values, dtype=np.float32))


def _show(token: bytes) -> str:
    text = token.decode("ascii", errors="backslashreplace")
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    """Token and line tables of one file; every error goes through `fail` (earliest line wins)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data = path, data
        a = np.frombuffer(data, dtype=np.uint8)
        self.bytes = a
        ws = (a == 32) | (a - np.uint8(9) <= 4)  # space, \t \n \v \f \r (uint8 wraps below 9)
        is_start = np.empty(len(a), dtype=bool)  # first byte of a token
        if len(a):
            is_start[0] = not ws[0]
            np.less(ws[1:], ws[:-1], out=is_start[1:])
        self.starts = np.flatnonzero(is_start)
        self.is_newline = a == 10
        newlines = np.flatnonzero(self.is_newline)
        self.line_starts = [0, *(newlines + 1).tolist(), len(a) + 1]
        self.num_lines = len(newlines) + 1
        self.fields = np.zeros(self.num_lines, dtype=np.int64)  # tokens per line
        if len(a):  # each segment holds a line and its LF, so none is empty
            heads = np.concatenate(([0], newlines[newlines < len(a) - 1] + 1))
            self.fields[: len(heads)] = np.add.reduceat(is_start, heads, dtype=np.int64)
        self.first_token = np.concatenate(([0], np.cumsum(self.fields)))
        self.last_content_line = (
            int(np.searchsorted(newlines, self.starts[-1])) if len(self.starts) else -1
        )
        self.joint_bases: list[int] = []  # first joint line of every body, in file order

    # -------------------------------------------------------------- tokens and errors

    def tokens(self, line: int) -> list[bytes]:
        return self.data[self.line_starts[line] : self.line_starts[line + 1]].split()

    def fail(self, line: int, message: str) -> NoReturn:
        """Raise for `line` (0-based) unless an earlier joint line is already bad."""
        self.check_joint_lines()
        self.xyz()
        raise ParseError(self.path, line + 1, message)

    def need(self, line: int, what: str) -> list[bytes]:
        if line > self.last_content_line:
            self.fail(line, f"unexpected end of file: expected {what}")
        return self.tokens(line)

    def count(self, line: int, what: str, limit: int) -> int:
        toks = self.need(line, what)
        if len(toks) != 1 or not toks[0].isdigit():
            got = " ".join(_show(t) for t in toks) or "a blank line"
            self.fail(line, f"expected {what} (a non-negative integer), got {got!r}")
        if len(toks[0]) > 18 or int(toks[0]) > limit:
            self.fail(line, f"{what} {_show(toks[0])} exceeds the limit of {limit}")
        return int(toks[0])

    # -------------------------------------------------------------- joint lines

    def joint_lines(self) -> np.ndarray:
        bases = np.asarray(self.joint_bases, dtype=np.int64)
        return (bases[:, None] + np.arange(NUM_JOINTS)).ravel()

    def check_joint_lines(self) -> None:
        """Every joint line must exist and hold exactly 12 fields."""
        lines = self.joint_lines()
        padded = np.concatenate((self.fields, np.zeros(NUM_JOINTS, dtype=self.fields.dtype)))
        bad = np.flatnonzero(padded[lines] != JOINT_FIELDS)
        if len(bad):
            k = int(bad[0])
            line, n = int(lines[k]), int(padded[lines[k]])
            where = f"joint line {k % NUM_JOINTS + 1} of {NUM_JOINTS}"
            if line > self.last_content_line:
                message = f"unexpected end of file: expected {where}"
            else:
                message = f"{where} has {n} fields, expected {JOINT_FIELDS}"
            raise ParseError(self.path, line + 1, message)

    def xyz(self) -> np.ndarray:
        """x, y, z of every joint line as float64 (n_lines, 3); joint lines already checked."""
        lines = self.joint_lines()
        if not len(lines):
            return np.zeros((0, 3))
        first = self.first_token[lines]
        marks = np.zeros(len(self.bytes) + 1, dtype=np.int8)
        marks[self.starts[first]] = 1
        marks[self.starts[first + 3]] = -1  # up to the 4th token (each joint line has 12)
        keep = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
        buf = self.bytes[keep | self.is_newline]  # the x y z text (+ blanks) of each joint line
        if _DECIMAL[buf].all():  # numpy's parser also takes nan, infinity, ...: keep to decimals
            try:
                with warnings.catch_warnings():  # numpy < 2.3 warns instead of raising
                    warnings.simplefilter("error", DeprecationWarning)
                    values = np.fromstring(buf.tobytes(), dtype=np.float64, sep=" ")
            except (ValueError, DeprecationWarning):
                values = np.zeros(0)
            if values.size == 3 * len(lines) and _fits_float32(values).all():
                return values.reshape(-1, 3)
        return self.xyz_slow(lines)

    def xyz_slow(self, lines: np.ndarray) -> np.ndarray:
        """Strict per-line conversion; raises ParseError at the first bad coordinate."""
        out = np.empty((len(lines), 3))
        for k, line in enumerate(lines.tolist()):
            for c, token in enumerate(self.tokens(line)[:3]):
                try:
                    if token.translate(None, _DECIMAL_CHARS):  # a byte outside plain decimals
                        raise ValueError
                    value = float(token)
                except ValueError:
                    message = f"non-numeric coordinate {_show(token)!r}"
                    raise ParseError(self.path, line + 1, message) from None
                if not np.isfinite(value):
                    message = f"non-finite coordinate {_show(token)!r}"
                    raise ParseError(self.path, line + 1, message)
                if not _fits_float32(value):  # finite, but inf once stored as float32
                    message = f"coordinate {_show(token)!r} is outside the float32 range"
                    raise ParseError(self.path, line + 1, message)
                out[k, c] = value
        return out


def read_skeleton(path: str | Path) -> SkeletonFile:
    """Parse a whole NTU `.skeleton` file (methods.md §8.1) into per-bodyID tracks.

    Accepted: LF or CRLF line ends, trailing whitespace, blank lines after the last frame, a
    missing final newline. Lines are split at LF only (CR is whitespace). Validation:
    counts must be plain non-negative integers (frames <= 10,000, bodies per frame <= 20, joints
    == 25); a body line must have exactly 10 fields whose first (bodyID) is an integer; a joint
    line must have exactly 12 fields (the real format's count) of which x, y, z must be plain
    decimal numbers, finite as float32; the other 9 joint fields and 9 body fields are not parsed. A bodyID
    may appear at most once per frame. Anything non-blank after the last frame is an error. A
    well-formed file may hold no body at all (every frame with 0 bodies; `bodies` is empty).

    Raises ParseError(path, line, message) for any malformed or unreadable file (line 0 when the
    file cannot be read at all); when a file has several faults, the earliest line is named.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, 0, f"cannot read file: {exc.strerror or exc}") from None
    r = _Reader(path, data)
    if r.last_content_line < 0:
        raise ParseError(path, 1, "empty file")
    num_frames = r.count(0, "frame count", MAX_FRAMES)
    body_counts = np.zeros(num_frames, dtype=np.int32)
    track_of: dict[int, int] = {}  # bodyID -> track index
    track_frames: list[list[int]] = []
    occurrence_track: list[int] = []  # track index of every body occurrence, in file order
    line, valid = 1, -1
    for f in range(num_frames):
        nb = r.count(line, f"body count of frame {f + 1}", MAX_BODIES)
        body_counts[f] = nb
        line += 1
        if nb:
            valid += 1
        seen: set[int] = set()
        for b in range(nb):
            toks = r.need(line, f"body {b + 1} of frame {f + 1}")
            if len(toks) != BODY_FIELDS or not toks[0].isdigit() or len(toks[0]) > 20:
                first = repr(_show(toks[0])) if toks else "nothing"
                r.fail(line, f"body line must have {BODY_FIELDS} fields starting with an integer "
                       f"bodyID, got {len(toks)} fields starting with {first}")
            body_id = int(toks[0])
            if body_id in seen:
                r.fail(line, f"bodyID {body_id} appears twice in frame {f + 1}")
            seen.add(body_id)
            joints = r.count(line + 1, "joint count", 10**9)
            if joints != NUM_JOINTS:
                r.fail(line + 1, f"joint count {joints}, expected {NUM_JOINTS}")
            if body_id not in track_of:
                track_of[body_id] = len(track_frames)
                track_frames.append([])
            track_frames[track_of[body_id]].append(valid)
            occurrence_track.append(track_of[body_id])
            r.joint_bases.append(line + 2)
            line += 2 + NUM_JOINTS
    r.check_joint_lines()
    if r.last_content_line >= line:
        extra = next(i for i in range(line, r.last_content_line + 1) if r.fields[i])
        r.fail(extra, "unexpected content after the last frame")
    xyz = r.xyz().astype(np.float32).reshape(-1, NUM_JOINTS, 3)
    owner = np.asarray(occurrence_track, dtype=np.int64)
    bodies = [
        BodyTrack(
            body_id=body_id,
            frames=np.asarray(track_frames[k], dtype=np.int32),
            joints=xyz[owner == k],
        )
        for body_id, k in track_of.items()
    ]
    return SkeletonFile(path=path, num_frames=num_frames, body_counts=body_counts, bodies=bodies)
