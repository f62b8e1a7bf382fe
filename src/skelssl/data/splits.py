"""NTU RGB+D benchmark splits (methods.md §7.1).

- NTU-60 cross-subject (xsub): the 20 training performer IDs below; all others are test.
- NTU-60 cross-view (xview): cameras 2 and 3 train, camera 1 test.
- NTU-120 cross-subject (xsub120): the 20 NTU-60 IDs plus 33 more (53 IDs); others test.
- NTU-120 cross-setup (xset): even setup IDs train, odd test.
"""

from __future__ import annotations

from skelssl.data.ntu import SampleName

XSUB60_TRAIN_PERFORMERS: frozenset[int] = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
XSUB120_TRAIN_PERFORMERS: frozenset[int] = XSUB60_TRAIN_PERFORMERS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85,
     86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)
XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset((2, 3))

SPLITS = ("xsub_train", "xview_train", "xsub120_train", "xset_train")


def split_membership(sample: SampleName) -> dict[str, bool]:
    """True where `sample` belongs to the training side of each benchmark."""
    return {
        "xsub_train": sample.performer in XSUB60_TRAIN_PERFORMERS,
        "xview_train": sample.camera in XVIEW_TRAIN_CAMERAS,
        "xsub120_train": sample.performer in XSUB120_TRAIN_PERFORMERS,
        "xset_train": sample.setup % 2 == 0,
    }
