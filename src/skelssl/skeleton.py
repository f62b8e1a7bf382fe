"""Skeleton layouts: joints, bones, centre joint, body parts, left/right pairs.

All indices are 0-based. The NTU RGB+D 25-joint layout follows the Kinect v2 joint order
(`methods.md` §8.1); bones are (child, parent) pairs of the ST-GCN/MAMP/PSTL bone list.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layout:
    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]  # (child, parent), 0-based
    center: int  # joint used as origin when centring
    graph_center: int  # root of the ST-GCN "spatial" partition (distance to it orders neighbours)
    parts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    left_right: tuple[tuple[int, int], ...] = ()
    hips: tuple[int, int] | None = None  # (left, right): the view-alignment axis, if the layout has hips

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def degrees(self) -> list[int]:
        """Node degree of every joint in the (undirected) bone graph."""
        deg = [0] * self.num_joints
        for child, parent in self.bones:
            deg[child] += 1
            deg[parent] += 1
        return deg


_NTU_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "handtip_left", "thumb_left", "handtip_right", "thumb_right",
)  # fmt: skip

# 1-based (child, parent) pairs from methods.md §8.1, converted to 0-based below.
_NTU_BONES_1 = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
)  # fmt: skip

NTU25 = Layout(
    name="ntu25",
    joint_names=_NTU_NAMES,
    bones=tuple((c - 1, p - 1) for c, p in _NTU_BONES_1),
    center=1,  # spine middle (joint 2), the CTR-GCN/MAMP origin
    graph_center=20,  # spine shoulder (joint 21), the ST-GCN/PSTL graph centre
    parts={
        "torso": (0, 1, 2, 3, 20),
        "left_arm": (4, 5, 6, 7, 21, 22),
        "right_arm": (8, 9, 10, 11, 23, 24),
        "left_leg": (12, 13, 14, 15),
        "right_leg": (16, 17, 18, 19),
    },
    hips=(12, 16),
    left_right=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19),
                (21, 23), (22, 24)),
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {"ntu25": NTU25}
