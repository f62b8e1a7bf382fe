"""Interchange with other codebases' preprocessed files (methods.md §8.3, §7.5).

- CTR-GCN/MAMP `.npz` (§8.3): `x_train`/`x_test` float (N, T, 150) with frames after the valid
  length zero, `y_train`/`y_test` one-hot (N, classes). `read_npz_part` streams one part: the x
  array is read row chunk by row chunk from the zip member (an NTU-60 file holds ~7 GB of x), every
  clip is cut to its valid length (up to its last non-zero frame).
- pyskl annotation pickles (§7.5): a dict with `split` ({name: [frame_dir, ...]}) and `annotations`
  (a list of dicts with `frame_dir`, `label`, `keypoint` (M, T, V, C), `total_frames`, ...).

Security: a pickle can run arbitrary code when loaded (`pickle.load` calls whatever callables the
file names). pyskl files are therefore read only through `RestrictedUnpickler`, which resolves
nothing but the numpy array/scalar/dtype reconstructors, `collections.OrderedDict` and
`_codecs.encode` (protocol-2 bytes); every other global is refused with an error naming it. Plain
containers, strings and numbers need no globals. Do not open pickles from untrusted sources with
anything else.

Export (`export_pyskl`, CLI `skelssl export-pyskl`): an ingest artifact (index.parquet +
joints.npy + meta.json) → a pyskl pickle: one annotation per index row with frame_dir = name,
label, keypoint (M, T, V, C) float32, total_frames, plus the index's metadata columns as extra
keys (pyskl ignores unknown keys); every `<s>_train` column becomes split lists `<s>_train` and
`<s>_val` (pyskl's NTU naming). Written with pickle protocol 4, atomically.
"""

from __future__ import annotations

import collections
import pickle
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from skelssl.errors import ParseError, SkelsslError

# ---------------------------------------------------------------------------- restricted pickle

_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
})  # fmt: skip


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and plain containers and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (only numpy arrays "
                                         "and plain containers are allowed)")
        with warnings.catch_warnings():  # numpy 2 warns when numpy.core.* is imported
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing persistent ids")


def load_pickle(path: Path) -> Any:
    """Load a pickle with `RestrictedUnpickler`; ParseError(path, 0, ...) when it cannot."""
    try:
        with path.open("rb") as handle:
            return RestrictedUnpickler(handle).load()
    except OSError as exc:
        raise ParseError(path, 0, f"cannot read file: {exc.strerror or exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, ImportError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        raise ParseError(path, 0, f"not a loadable pickle: {exc}") from None


# ---------------------------------------------------------------------------- CTR-GCN npz

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_VALUES = 150  # 2 persons × 25 joints × xyz


def _read_header(f: Any, path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ParseError(path, 0, f"{key}: unsupported .npy format version {version}")
    except ValueError as exc:
        raise ParseError(path, 0, f"{key}: not a .npy array ({exc})") from None
    if fortran:
        raise ParseError(path, 0, f"{key}: Fortran-ordered arrays are not supported")
    if dtype.hasobject:
        raise ParseError(path, 0, f"{key}: object arrays are not supported (they need pickle)")
    return tuple(shape), dtype


@contextmanager
def _npz_member(path: Path, key: str) -> Iterator[IO[bytes]]:
    """The `<key>.npy` member of an .npz, read errors of a corrupt archive as ParseError."""
    try:
        with _open_npz(path) as zf, zf.open(f"{key}.npy") as f:
            yield f
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise ParseError(path, 0, f"corrupt .npz member {key}.npy: {exc}") from None


def _open_npz(path: Path) -> zipfile.ZipFile:
    if not zipfile.is_zipfile(path):
        raise ParseError(path, 0, "not an .npz (zip) file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a corrupt directory (found by fuzzing)
        raise ParseError(path, 0, f"corrupt .npz (zip) file: {exc}") from None
    have = sorted(n.removesuffix(".npy") for n in zf.namelist())
    for key in NPZ_KEYS:
        if f"{key}.npy" not in zf.namelist():
            zf.close()
            raise ParseError(path, 0, f"no {key} array (has: {', '.join(have) or 'nothing'})")
    return zf


def npz_labels(path: Path, part: str) -> np.ndarray:
    """0-based labels of `y_<part>` (one-hot rows); ParseError for anything else."""
    key = f"y_{part}"
    with _npz_member(path, key) as f:
        shape, dtype = _read_header(f, path, key)
        if len(shape) != 2 or shape[1] < 1:
            raise ParseError(path, 0, f"{key}: shape {shape}, expected (N, classes) one-hot")
        y = np.frombuffer(f.read(), dtype=dtype)
    if y.size != int(np.prod(shape)):
        raise ParseError(path, 0, f"{key}: truncated array data")
    y = y.reshape(shape)
    ok = np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise ParseError(path, 0, f"{key} row {row}: not a one-hot label (one 1, zeros elsewhere)")
    return np.argmax(y, axis=1).astype(np.int64)


def read_npz_part(path: Path, part: str, chunk: int = 256) -> Iterator[tuple[int, int, np.ndarray | None]]:
    """(row, label, joints (T', 2, 25, 3) float32) of every row of `x_<part>`, T' = its valid length
    (up to its last non-zero frame); joints is None for an all-zero row."""
    labels = npz_labels(path, part)
    key = f"x_{part}"
    with _npz_member(path, key) as f:
        shape, dtype = _read_header(f, path, key)
        if len(shape) != 3 or shape[2] != NPZ_VALUES or dtype.kind != "f":
            raise ParseError(path, 0, f"{key}: {dtype} array of shape {shape}, expected float (N, T, "
                             f"{NPZ_VALUES})")
        if shape[0] != len(labels):
            raise ParseError(path, 0, f"{key} has {shape[0]} rows but y_{part} has {len(labels)}")
        frames = shape[1]
        row_bytes = frames * NPZ_VALUES * dtype.itemsize
        for first in range(0, shape[0], chunk):
            count = min(chunk, shape[0] - first)
            buf = f.read(count * row_bytes)
            if len(buf) != count * row_bytes:
                raise ParseError(path, 0, f"{key}: truncated array data at row {first}")
            x = np.frombuffer(buf, dtype=dtype).reshape(count, frames, 2, 25, 3)
            if not np.isfinite(x).all():
                bad = first + int(np.flatnonzero(~np.isfinite(x).reshape(count, -1).all(axis=1))[0])
                raise ParseError(path, 0, f"{key} row {bad}: non-finite value")
            nonzero = x.reshape(count, frames, -1).any(axis=2)  # (count, T)
            for k in range(count):
                valid = np.flatnonzero(nonzero[k])
                clip = x[k, : valid[-1] + 1].astype(np.float32) if len(valid) else None
                yield first + k, int(labels[first + k]), clip


# ---------------------------------------------------------------------------- pyskl

PYSKL_RESERVED = frozenset({"frame_dir", "label", "keypoint", "total_frames", "keypoint_score",
                            "img_shape", "original_shape"})


def scalar_meta(value: Any) -> int | str | None:
    """An int/str metadata value (numpy integers included), or None for anything else."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        return value
    return None


def pyskl_annotations(path: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """(annotations, split lists) of a pyskl pickle, loaded with `RestrictedUnpickler`."""
    data = load_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ParseError(path, 0, "expected a dict with an 'annotations' list (pyskl format)")
    split = data.get("split")
    if not isinstance(split, dict):
        raise ParseError(path, 0, "expected a 'split' dict {name: [frame_dir, ...]} (pyskl format)")
    lists: dict[str, list[str]] = {}
    for name, dirs in split.items():
        if not isinstance(name, str) or not isinstance(dirs, list | tuple) or not all(
                isinstance(d, str) for d in dirs):
            raise ParseError(path, 0, f"split {name!r}: expected a list of frame_dir strings")
        lists[name] = list(dirs)
    for k, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise ParseError(path, 0, f"annotation {k}: expected a dict, got {type(ann).__name__}")
    return data["annotations"], lists


def pyskl_benchmarks(path: Path, lists: dict[str, list[str]]) -> dict[str, tuple[set[str], set[str] | None]]:
    """benchmark → (training frame_dirs, test frame_dirs or None) from `<b>_train` + `<b>_val|_test`."""
    out: dict[str, tuple[set[str], set[str] | None]] = {}
    for name in lists:
        if not name.endswith("_train"):
            continue
        bench = name.removesuffix("_train")
        if not bench or not bench.replace("_", "").isalnum() or bench != bench.lower():
            raise ParseError(path, 0, f"split {name!r}: benchmark names must be lower-case letters, "
                             "digits and '_'")
        test_name = next((f"{bench}{s}" for s in ("_val", "_test") if f"{bench}{s}" in lists), None)
        train = set(lists[name])
        test = None if test_name is None else set(lists[test_name])
        if test is not None and train & test:
            raise ParseError(path, 0, f"{sorted(train & test)[0]} is in both {name} and {test_name}")
        out[bench] = (train, test)
    return out


def _check_clip_rows(ingested_dir: Path, index: Any, joints: Any) -> None:
    """SkelsslError unless the index rows (offset, frames) are the consecutive clips of the (F, M, V, C)
    joints.npy the ingest stage writes (the check `skelssl preprocess` makes, per row)."""
    starts = np.concatenate([[0], np.cumsum(index["frames"].to_numpy(), dtype=np.int64)])
    if (len(joints.shape) != 4 or not np.array_equal(index["offset"].to_numpy(), starts[:-1])
            or starts[-1] != len(joints)):
        raise SkelsslError(f"{ingested_dir}: index offsets do not match joints.npy {joints.shape}")


def export_pyskl(ingested_dir: Path, out: Path) -> int:
    """Write the ingest artifact in `ingested_dir` as a pyskl pickle `out`; returns the clip count.
    The artifact is read as `skelssl preprocess` reads it: a corrupt or inconsistent index.parquet,
    joints.npy or meta.json is a one-line SkelsslError naming the file (or the folder)."""
    from skelssl.io import atomic_file
    from skelssl.pipeline.dataset import INDEX, JOINTS, read_index, read_meta, require
    from skelssl.pipeline.npystream import NpyReader

    ingested_dir, out = Path(ingested_dir), Path(out)
    read_meta(ingested_dir)  # fails unless this is a stage artifact
    needed = ("name", "label", "frames", "offset")
    index = read_index(ingested_dir / INDEX, "ingested index", needed)
    splits = [c.removesuffix("_train") for c in index.columns if c.endswith("_train")]
    extra = [c for c in index.columns if c not in needed and not c.endswith("_train")
             and c not in PYSKL_RESERVED]
    annotations, lists = [], collections.defaultdict(list)
    with NpyReader(require(ingested_dir / JOINTS, "ingested joints")) as joints:
        _check_clip_rows(ingested_dir, index, joints)
        for row in index.iter_rows(named=True):
            clip = np.asarray(joints.read(row["offset"], row["offset"] + row["frames"]), dtype=np.float32)
            ann: dict[str, Any] = {
                "frame_dir": row["name"], "label": int(row["label"]),
                "keypoint": np.ascontiguousarray(clip.transpose(1, 0, 2, 3)),  # (M, T, V, C)
                "total_frames": int(row["frames"]),
            }  # fmt: skip
            ann.update({c: row[c] for c in extra if row[c] is not None})
            annotations.append(ann)
            for s in splits:
                lists[f"{s}_train" if row[f"{s}_train"] else f"{s}_val"].append(row["name"])
    split = {name: lists[name] for s in splits for name in (f"{s}_train", f"{s}_val")}
    with atomic_file(out) as tmp:
        with tmp.open("wb") as handle:
            pickle.dump({"split": split, "annotations": annotations}, handle, protocol=4)
    return len(annotations)
