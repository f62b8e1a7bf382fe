"""NTU-60/120 completeness (methods.md §7.1): the sample-name sets, the official missing-skeleton lists,
the published split sizes computed from names alone, `ingest.ntu_missing` and `ingest.second_person`."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from helpers import default_params
from skelssl.data.ntu import parse_sample_name
from skelssl.data.ntu_format import BodyFrame, write_skeleton
from skelssl.data.ntu_samples import (
    SETUP_PERFORMERS,
    all_sample_names,
    missing_samples,
    read_name_list,
)
from skelssl.data.sources.ntu import NTUSource
from skelssl.data.splits import XSUB60_TRAIN_PERFORMERS, XSUB120_TRAIN_PERFORMERS, split_membership
from skelssl.errors import ParseError, SkelsslError


@cache
def _available(dataset: str) -> tuple[str, ...]:
    missing = missing_samples(dataset)  # type: ignore[arg-type]
    return tuple(n for n in all_sample_names(dataset) if n not in missing)  # type: ignore[arg-type]


def test_missing_lists_have_the_official_sizes():
    ntu60, ntu120 = missing_samples("ntu60"), missing_samples("ntu120")
    assert (len(ntu60), len(ntu120)) == (302, 535)
    assert ntu60 < ntu120  # the NTU-120 list repeats every NTU-60 entry
    assert all(parse_sample_name(n).setup <= 17 for n in ntu60)
    assert min(parse_sample_name(n).setup for n in ntu120 - ntu60) == 19  # none in setup 18
    assert "S001C002P005R002A008" in ntu60 and "S032C003P067R002A077" in ntu120


def test_missing_lists_ship_as_package_data():
    import skelssl

    folder = Path(skelssl.__file__).parent / "data" / "ntu_missing"
    assert sorted(p.name for p in folder.glob("*.txt")) == ["ntu120.txt", "ntu60.txt"]
    toml = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"data/ntu_missing/*.txt"' in toml


def test_name_sets_have_the_published_totals():
    ntu60, ntu120 = all_sample_names("ntu60"), all_sample_names("ntu120")
    assert (len(ntu60), len(ntu120)) == (56_880, 114_480)
    assert len(set(ntu120)) == len(ntu120) and ntu120[: len(ntu60)] == ntu60
    assert sum(len(SETUP_PERFORMERS[s]) for s in range(1, 18)) == 158  # 158 × 3 × 2 × 60
    assert sorted({p for ps in SETUP_PERFORMERS.values() for p in ps}) == list(range(1, 107))
    assert {n[-4:] for n in ntu60} == {f"A{a:03d}" for a in range(1, 61)}
    assert missing_samples("ntu120") <= set(ntu120)  # every missing sample is a recorded name
    assert (len(_available("ntu60")), len(_available("ntu120"))) == (56_578, 113_945)


@pytest.mark.parametrize(("dataset", "split", "train", "test"), [
    ("ntu60", "xsub", 40_091, 16_487),
    ("ntu60", "xview", 37_646, 18_932),
    ("ntu120", "xsub120", 63_026, 50_919),
    ("ntu120", "xset", 54_468, 59_477),
])
def test_published_split_sizes_from_names(dataset, split, train, test):
    counts = Counter(split_membership(parse_sample_name(n))[f"{split}_train"] for n in _available(dataset))
    assert (counts[True], counts[False]) == (train, test)


def test_split_id_lists_match_methods_md():
    ntu60 = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
    extra = {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85,
             86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103}
    assert XSUB60_TRAIN_PERFORMERS == ntu60 and XSUB120_TRAIN_PERFORMERS == ntu60 | extra


def test_read_name_list(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("# a tiny list\n\nS001C001P001R001A001\r\n  S002C003P010R002A060  \n")
    assert read_name_list(path) == {"S001C001P001R001A001", "S002C003P010R002A060"}
    path.write_text("S001C001P001R001A001\nS001C001P001R001A01\n")
    with pytest.raises(ParseError) as bad:
        read_name_list(path)
    assert (bad.value.path, bad.value.line) == (path, 2) and "not an NTU sample name" in bad.value.message
    path.write_text("# x\nS001C001P001R001A001\nS001C001P001R001A001\n")
    with pytest.raises(ParseError, match=r"tiny.txt:3: S001C001P001R001A001 is listed twice"):
        read_name_list(path)


# ---------------------------------------------------------------------------- the NTU source

LISTED = "S001C002P005R002A008"  # on the official missing-skeleton list
NAMES = ["S001C001P001R001A001", LISTED, "S001C001P002R001A002"]


def _body(body_id: int, offset: float, rng: np.random.Generator) -> BodyFrame:
    xyz = rng.normal(0, 0.3, (25, 3)) + np.array([offset, 0.0, 3.0])
    xyz[:, 1] = np.linspace(-0.8, 0.8, 25)  # tall, not wide: never "noisy" for the denoiser
    return BodyFrame(body_id, xyz, np.full(25, 2))


def _write(folder: Path, name: str, actors: int, frames: int = 15, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.skeleton"
    write_skeleton(path, [[_body(b + 1, float(b), rng) for b in range(actors)] for _ in range(frames)])
    return path


def _cfg(**update):
    return default_params().ingest.model_copy(update=update)


def test_ntu_missing_skip_and_keep(tmp_path):
    for name in NAMES:
        _write(tmp_path, name, actors=1)
    source = NTUSource()
    assert [p.stem for p in source.items(tmp_path, _cfg(ntu_missing="skip"))] == sorted(set(NAMES) - {LISTED})
    kept = source.items(tmp_path, _cfg(ntu_missing="keep"))
    assert [p.stem for p in kept] == sorted(NAMES)
    clips = source.read(tmp_path / f"{LISTED}.skeleton", _cfg(ntu_missing="keep"))
    assert [c.name for c in clips] == [LISTED]  # a readable listed file is ingested under `keep`


def test_ntu_missing_skip_of_every_file_names_the_param(tmp_path):
    _write(tmp_path, LISTED, actors=1)
    message = r"^ingest.input: all 1 .skeleton files .* \(ingest.ntu_missing: skip\)$"
    with pytest.raises(SkelsslError, match=message):
        NTUSource().items(tmp_path, _cfg(ntu_missing="skip"))


@pytest.mark.parametrize(("policy", "actors"), [("zeros", 1), ("copy", 1), ("zeros", 2), ("copy", 2)])
def test_second_person_policy(tmp_path, policy, actors):
    path = _write(tmp_path, "S001C001P001R001A001", actors=actors)
    (clip,) = NTUSource().read(path, _cfg(second_person=policy))
    assert clip.joints.shape == (15, 2, 25, 3) and clip.meta["actors"] == actors
    first, second = clip.joints[:, 0], clip.joints[:, 1]
    if actors == 2:  # a real second actor is never replaced
        assert abs(abs(second[..., 0].mean() - first[..., 0].mean()) - 1.0) < 0.1  # the two bodies, 1 m apart
    elif policy == "copy":
        assert np.array_equal(second, first)
    else:
        assert not second.any() and first.any()
