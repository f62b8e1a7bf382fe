"""Fast NTU RGB+D `.skeleton` reader: one numba pass over the file bytes (methods.md §8.1).

`read_skeleton_fast(path)` returns exactly what `skelssl.data.ntu.read_skeleton(path)` returns
(same `SkeletonFile`: counts, bodyIDs, track frames, float32 x, y, z bit for bit) for every file
the scanner accepts, and hands every other file to that strict parser, which then either reads it
(unusual number forms and whitespace are fine there too) or raises `ParseError` naming the line.

The scanner (`scan_skeleton`) walks the bytes once. It converts only the frame, body and joint
counts, the bodyID (first of the 10 body fields) and x, y, z (first 3 of the 12 joint fields);
the other fields are skipped eight bytes at a time (SWAR: byte classes of a 64-bit word by
integer arithmetic) while still being counted, since a body line must have exactly 10 fields and
a joint line 12. It accepts only the common shape of a well-formed file, a subset of what the
strict parser accepts:
- lines end at LF; space, TAB, VT, FF and CR separate fields (the strict parser's whitespace);
- a count is 1..18 ASCII digits (frames <= 10,000, bodies per frame <= 20, joints == 25); a
  bodyID is 1..18 digits and appears at most once per frame;
- a coordinate is `[+-]digits[.digits][(e|E)[+-]digits]` (or `[+-].digits...`) with at most 18
  mantissa digits, a mantissa m <= 2**53 and a power of ten e within +-22. Then `m * 10**e` or
  `m / 10**-e` is one correctly rounded IEEE operation on exact operands (Clinger's fast path),
  i.e. the correctly rounded float64 that the strict parser's `np.fromstring`/`float` give, and
  it is rounded to float32 like there;
- only whitespace after the last frame.
Anything else (every malformed file among them) gives status `FALLBACK`.
*Unverified choice*: the 18-digit limits (the strict parser allows 20-digit bodyIDs); longer
tokens simply take the strict path. Little-endian byte order is assumed by the word skipping;
on a big-endian machine every file takes the strict path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numba
import numpy as np

from skelssl.data.ntu import NUM_JOINTS, BodyTrack, SkeletonFile, read_skeleton

OK = 0
FALLBACK = 1
PADDING = 32  # bytes after the file content in the scan buffer (set to LF by the scanner)

_JOINTS = 25
_MAX_FRAMES = 10_000
_MAX_BODIES = 20
_MAX_MANTISSA = 2**53
_MIN_BODY_BYTES = _JOINTS * 23  # 25 joint lines of >= 12 one-byte fields and 11 separators

# byte classes: 0 field byte, 1 blank (HT, VT, FF, CR, space), 2 line feed
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[[9, 11, 12, 13, 32]] = 1
_CLASS[10] = 2
_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)  # exact in float64

_U = np.uint64
_ONES = _U(0x0101010101010101)
_HIGH = _U(0x8080808080808080)
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_SPACES = _U(0x2020202020202020)
_LFS = _U(0x0A0A0A0A0A0A0A0A)
_ADD9 = _U(0x7777777777777777)  # 0x80 - 9: high bit set for bytes >= 9 (of 7-bit bytes)
_ADD14 = _U(0x7272727272727272)  # 0x80 - 14: high bit set for bytes >= 14


@numba.njit(cache=True, nogil=True)
def _load8(words, pos):
    """The 8 bytes at `pos` as a little-endian word (two aligned loads)."""
    i = pos >> 3
    shift = _U((pos & 7) * 8)
    return (words[i] >> shift) | ((words[i + 1] << _U(1)) << (_U(63) - shift))


@numba.njit(cache=True, nogil=True)
def _zero_bytes(v):
    """High bit of each byte set where that byte of `v` is 0."""
    return ~(((v & _LOW7) + _LOW7) | v) & _HIGH


@numba.njit(cache=True, nogil=True)
def _skip_fields(words, pos, n):
    """(fields, next line start): count the fields up to the next LF, 8 bytes per step."""
    fields = _U(0)
    prev = _U(0x80)  # the byte before `pos` counts as a separator
    while pos <= n:
        w = _load8(words, pos)
        lf = _zero_bytes(w ^ _LFS)
        low = w & _LOW7
        control = (low + _ADD9) & ~(low + _ADD14) & ~w & _HIGH  # bytes 9..13 (LF included)
        separator = _zero_bytes(w ^ _SPACES) | control
        starts = ~separator & ((separator << _U(8)) | prev) & _HIGH
        if lf != _U(0):
            below = ((lf & (~lf + _U(1))) >> _U(7)) - _U(1)  # bits of the bytes before the LF
            fields += (((starts & below) >> _U(7)) * _ONES) >> _U(56)
            return np.int64(fields), pos + np.int64(((below & _ONES) * _ONES) >> _U(56)) + 1
        fields += ((starts >> _U(7)) * _ONES) >> _U(56)
        prev = separator >> _U(56)
        pos += 8
    return np.int64(-1), pos  # unreachable: the padding holds line feeds


@numba.njit(cache=True, nogil=True)
def _skip_blanks(data, pos):
    while _CLASS[data[pos]] == 1:
        pos += 1
    return pos


@numba.njit(cache=True, nogil=True)
def _integer(data, pos):
    """(value, end) of 1..18 ASCII digits ending at a separator; value -1 otherwise."""
    start = pos
    value = 0
    while True:
        d = np.uint8(data[pos] - np.uint8(48))
        if d > 9:
            break
        value = value * 10 + d  # may wrap past 18 digits; rejected below
        pos += 1
    if pos == start or pos - start > 18 or _CLASS[data[pos]] == 0:
        return -1, pos
    return value, pos


@numba.njit(cache=True, nogil=True)
def _count_line(data, pos, limit):
    """(value, next line start) of a line holding one count <= limit; value -1 otherwise."""
    value, pos = _integer(data, _skip_blanks(data, pos))
    if value < 0 or value > limit:
        return -1, pos
    pos = _skip_blanks(data, pos)
    if data[pos] != 10:
        return -1, pos
    return value, pos + 1


@numba.njit(cache=True, nogil=True)
def _number(data, pos):
    """(ok, value, end) of one coordinate token the fast path converts exactly."""
    b = data[pos]
    neg = b == 45  # -
    if neg or b == 43:  # +
        pos += 1
    mantissa = 0
    start = pos
    while True:
        d = np.uint8(data[pos] - np.uint8(48))
        if d > 9:
            break
        mantissa = mantissa * 10 + d  # may wrap past 18 digits; rejected below
        pos += 1
    digits = pos - start
    exp10 = 0
    if data[pos] == 46:  # .
        pos += 1
        start = pos
        while True:
            d = np.uint8(data[pos] - np.uint8(48))
            if d > 9:
                break
            mantissa = mantissa * 10 + d
            pos += 1
        exp10 = start - pos
        digits -= exp10
    if digits == 0 or digits > 18:
        return False, 0.0, pos
    b = data[pos]
    if b == 101 or b == 69:  # e E
        pos += 1
        eneg = data[pos] == 45
        if eneg or data[pos] == 43:
            pos += 1
        start = pos
        evalue = 0
        while True:
            d = np.uint8(data[pos] - np.uint8(48))
            if d > 9:
                break
            evalue = evalue * 10 + d
            pos += 1
        if pos == start or pos - start > 4:
            return False, 0.0, pos
        exp10 += -evalue if eneg else evalue
    if _CLASS[data[pos]] == 0:  # the token goes on with other bytes
        return False, 0.0, pos
    if mantissa == 0:
        value = 0.0
    elif mantissa > _MAX_MANTISSA or exp10 < -22 or exp10 > 22:
        return False, 0.0, pos
    elif exp10 >= 0:
        value = np.float64(mantissa) * _POW10[exp10]
    else:
        value = np.float64(mantissa) / _POW10[-exp10]
    return True, -value if neg else value, pos


@numba.njit(cache=True, nogil=True)
def scan_skeleton(buf, n):
    """Scan the file bytes `buf[:n]` (see the module docstring for what is accepted).

    `buf`: C-contiguous uint8 with at least `n + PADDING` bytes, a multiple of 8 in all; its
    bytes from `n` on are overwritten with LF. Returns ``(status, num_frames, body_counts,
    track_ids, offsets, frames, xyz)``: status `OK` or `FALLBACK`; body_counts int32
    (num_frames,); the bodyIDs (int64) in order of first appearance; the body occurrences grouped
    by track (file order within a track), track k being rows offsets[k]:offsets[k + 1] (offsets
    int64, tracks + 1) of frames (int32 valid-frame index, frames with 0 bodies not numbered) and
    of xyz viewed as (occurrences, 25, 3) (float32 (occurrences * 25, 3)). Empty on `FALLBACK`.
    """
    fail = (FALLBACK, 0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64),
            np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32),
            np.zeros((0, 3), dtype=np.float32))
    if n < 0 or buf.shape[0] < n + PADDING or buf.shape[0] % 8:
        return fail
    buf[n:] = 10
    words = buf.view(np.uint64)
    cap = n // _MIN_BODY_BYTES + 1
    body_ids = np.empty(cap, dtype=np.int64)
    body_frames = np.empty(cap, dtype=np.int32)
    xyz = np.empty((cap * _JOINTS, 3), dtype=np.float32)

    num_frames, pos = _count_line(buf, 0, _MAX_FRAMES)
    if num_frames < 0 or pos > n + 1:
        return fail
    body_counts = np.zeros(num_frames, dtype=np.int32)
    occ = 0
    valid = -1
    for f in range(num_frames):
        nb, pos = _count_line(buf, pos, _MAX_BODIES)
        if nb < 0 or pos > n + 1:
            return fail
        body_counts[f] = nb
        if nb > 0:
            valid += 1
        first_occ = occ
        for _ in range(nb):
            if occ >= cap:
                return fail
            body_id, pos = _integer(buf, _skip_blanks(buf, pos))  # bodyID + 9 more fields
            if body_id < 0:
                return fail
            for k in range(first_occ, occ):
                if body_ids[k] == body_id:
                    return fail
            fields, pos = _skip_fields(words, pos, n)
            if fields != 9:
                return fail
            joints, pos = _count_line(buf, pos, _JOINTS)
            if joints != _JOINTS:
                return fail
            body_ids[occ] = body_id
            body_frames[occ] = valid
            row = occ * _JOINTS
            for j in range(_JOINTS):
                for c in range(3):
                    ok, value, pos = _number(buf, _skip_blanks(buf, pos))
                    if not ok:
                        return fail
                    xyz[row + j, c] = np.float32(value)
                fields, pos = _skip_fields(words, pos, n)
                if fields != 9:
                    return fail
            if pos > n + 1:  # the last joint line ran into the padding: truncated file
                return fail
            occ += 1
    for i in range(min(pos, n), n):  # only whitespace may follow the last frame
        if _CLASS[buf[i]] == 0:
            return fail
    return _group(num_frames, body_counts, body_ids[:occ], body_frames[:occ], xyz)


@numba.njit(cache=True, nogil=True)
def _group(num_frames, body_counts, occ_ids, occ_frames, xyz):
    """Order the body occurrences by track (bodyID, in order of first appearance), keeping file
    order within a track."""
    occ = occ_ids.shape[0]
    track = np.empty(occ, dtype=np.int64)
    ids = np.empty(occ, dtype=np.int64)
    sizes = np.zeros(occ + 1, dtype=np.int64)
    tracks = 0
    for k in range(occ):
        t = 0
        while t < tracks and ids[t] != occ_ids[k]:
            t += 1
        if t == tracks:
            ids[t] = occ_ids[k]
            tracks += 1
        track[k] = t
        sizes[t + 1] += 1
    offsets = np.cumsum(sizes[: tracks + 1])
    fill = offsets[:tracks].copy()
    frames = np.empty(occ, dtype=np.int32)
    joints = np.empty((occ * _JOINTS, 3), dtype=np.float32)
    for k in range(occ):
        dest = fill[track[k]]
        fill[track[k]] += 1
        frames[dest] = occ_frames[k]
        joints[dest * _JOINTS : (dest + 1) * _JOINTS] = xyz[k * _JOINTS : (k + 1) * _JOINTS]
    return OK, num_frames, body_counts, ids[:tracks], offsets, frames, joints


def _read_padded(path: Path) -> tuple[np.ndarray, int] | None:
    """The file's bytes in a scan buffer (PADDING spare bytes), or None when it cannot be read
    in one go (unreadable, or its size changed while reading)."""
    try:
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            buf = np.empty((size + PADDING + 7) // 8 * 8, dtype=np.uint8)
            view = memoryview(buf)
            got = 0
            while got < size:
                k = fh.readinto(view[got:size])
                if not k:
                    return None
                got += k
            if fh.read(1):
                return None
    except OSError:
        return None
    return buf, size


def read_skeleton_fast(path: str | Path) -> SkeletonFile:
    """`skelssl.data.ntu.read_skeleton(path)` through the byte scanner when it accepts the file.

    Same result, same errors: a file the scanner does not accept (malformed, unreadable, unusual
    number forms) is read by the strict parser, which raises `ParseError(path, line, ...)`.
    """
    path = Path(path)
    read = _read_padded(path) if sys.byteorder == "little" else None
    if read is None:
        return read_skeleton(path)
    status, num_frames, body_counts, ids, offsets, frames, xyz = scan_skeleton(*read)
    if status != OK:
        return read_skeleton(path)
    joints = xyz.reshape(-1, NUM_JOINTS, 3)
    bounds = offsets.tolist()
    bodies = [BodyTrack(body_id=body_id, frames=frames[a:b], joints=joints[a:b])
              for body_id, a, b in zip(ids.tolist(), bounds, bounds[1:])]
    return SkeletonFile(path=path, num_frames=num_frames, body_counts=body_counts, bodies=bodies)
