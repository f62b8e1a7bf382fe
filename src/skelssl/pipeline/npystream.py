"""Streaming `.npy` files: append rows without holding the array, read row ranges back.

The stages write arrays far larger than they hold at once (NTU-120's ingested joints are several
GB): `NpyWriter` writes the standard `.npy` header with a row count of 0, streams the rows after
it and rewrites the header with the final row count on `close`. numpy pads a header so that the
first axis can grow to 21 digits without changing its length, so the result is byte-identical to
`np.save` of the whole array. `NpyReader` reads row ranges with plain file reads; unlike
`np.load(mmap_mode="r")` it leaves no mapped pages behind, so a pass over a large file does not
raise the process's resident memory.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import TracebackType

import numpy as np

from skelssl.errors import SkelsslError

_BUFFER = 1 << 20


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    out = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(dtype)
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


class NpyWriter:
    """Append C-order rows of shape `row_shape` to a new `.npy` file; `close` fixes the header."""

    def __init__(self, path: Path, dtype: np.dtype | type, row_shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(int(k) for k in row_shape)
        self.rows = 0
        self._head = _header(self.dtype, (0, *self.row_shape))
        self._fh = open(self.path, "wb", buffering=_BUFFER)  # noqa: SIM115 (closed in close())
        self._fh.write(self._head)

    def append(self, rows: np.ndarray) -> None:
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"{self.path}: rows of shape {rows.shape[1:]}, expected {self.row_shape}")
        if rows.size:
            self._fh.write(memoryview(np.ascontiguousarray(rows, dtype=self.dtype)).cast("B"))
        self.rows += len(rows)

    def close(self) -> None:
        if self._fh.closed:
            return
        head = _header(self.dtype, (self.rows, *self.row_shape))
        if len(head) != len(self._head):  # > 10**21 rows; numpy's padding covers less
            self._fh.close()
            raise ValueError(f"{self.path}: {self.rows} rows do not fit the .npy header")
        self._fh.seek(0)
        self._fh.write(head)
        self._fh.close()

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._fh.close()


class NpyReader:
    """Row ranges of a C-order `.npy` file, read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "rb")  # noqa: SIM115 (closed in close())
        try:
            version = np.lib.format.read_magic(self._fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(self._fh)
        except ValueError as exc:
            self._fh.close()
            raise SkelsslError(f"{self.path}: not a .npy file ({exc})") from None
        if fortran or dtype.hasobject or not shape:
            self._fh.close()
            raise SkelsslError(f"{self.path}: expected a C-order numeric array with rows")
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype: np.dtype = dtype
        self._start = self._fh.tell()
        self._row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int, buffer: np.ndarray | None = None) -> np.ndarray:
        """Rows `start:stop`: a new array, or a view of the front of `buffer` (a C-contiguous
        array of this dtype with room for them; reusing one buffer avoids the page faults of a
        fresh allocation per read)."""
        if not 0 <= start <= stop <= self.shape[0]:
            raise IndexError(f"{self.path}: rows {start}:{stop} outside 0:{self.shape[0]}")
        count = (stop - start) * self._row_bytes // self.dtype.itemsize
        if buffer is None:
            out = np.empty(count, dtype=self.dtype)
        else:
            if buffer.dtype != self.dtype or not buffer.flags.c_contiguous or buffer.size < count:
                raise ValueError(f"buffer must be C-contiguous {self.dtype} with >= {count} values")
            out = buffer.reshape(-1)[:count]
        self._fh.seek(self._start + start * self._row_bytes)
        view = memoryview(out).cast("B")
        done = 0
        while done < len(view):
            got = self._fh.readinto(view[done:])
            if not got:
                raise SkelsslError(f"{self.path}: file is shorter than its header says")
            done += got
        return out.reshape(stop - start, *self.shape[1:])

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> NpyReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
