"""NTU benchmark split membership (methods.md §7.1)."""

from __future__ import annotations

import pytest

from skelssl.data.ntu import parse_sample_name
from skelssl.data.splits import (
    XSUB60_TRAIN_PERFORMERS,
    XSUB120_TRAIN_PERFORMERS,
    split_membership,
)


def test_id_list_lengths():
    assert len(XSUB60_TRAIN_PERFORMERS) == 20
    assert len(XSUB120_TRAIN_PERFORMERS) == 53
    assert XSUB60_TRAIN_PERFORMERS < XSUB120_TRAIN_PERFORMERS
    assert max(XSUB120_TRAIN_PERFORMERS) == 103 and min(XSUB60_TRAIN_PERFORMERS) == 1


@pytest.mark.parametrize(
    ("name", "xsub", "xview", "xsub120", "xset"),
    [
        ("S001C001P001R001A001", True, False, True, False),
        ("S001C002P003R001A001", False, True, False, False),
        ("S002C003P038R002A060", True, True, True, True),
        ("S017C001P040R001A050", False, False, False, False),
        ("S018C002P045R001A061", False, True, True, True),
        ("S032C003P106R002A120", False, True, False, True),
        ("S031C001P103R001A100", False, False, True, False),
    ],
)
def test_membership(name, xsub, xview, xsub120, xset):
    got = split_membership(parse_sample_name(name))
    want = {"xsub_train": xsub, "xview_train": xview, "xsub120_train": xsub120, "xset_train": xset}
    assert got == want


def test_ntu60_test_subjects():
    test_ids = [p for p in range(1, 41) if p not in XSUB60_TRAIN_PERFORMERS]
    assert test_ids == [3, 6, 7, 10, 11, 12, 20, 21, 22, 23, 24, 26, 29, 30, 32, 33, 36, 37, 39, 40]
