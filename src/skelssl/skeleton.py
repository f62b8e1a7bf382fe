"""Skeleton layouts: joints, bones, centre joint, body parts, left/right pairs.

All indices are 0-based. The NTU RGB+D 25-joint layout follows the Kinect v2 joint order
(`methods.md` §8.1); bones are (child, parent) pairs of the ST-GCN/MAMP/PSTL bone list.
The other layouts (Kinect v1 20 joints, OpenNI 15 joints, COCO-17 and Penn Action 13 2D keypoints)
name the source of their joint order next to them; `joint_order` maps a source's joint order onto a
layout by joint name. Every layout's bones form one tree over all its joints, its parts
partition the joints and its left/right pairs are disjoint (tests/test_layouts_methods.py).
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
    channels: int = 3  # coordinates per joint: 3 (x, y, z) for depth-sensor skeletons, 2 for image keypoints

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
    # The 6 body regions of graph SkeletonMAE's COCO-17 partition (methods.md §3.1) mapped to
    # NTU-25: shoulders and hips belong to the torso. The limbs are longer chains than COCO's, so
    # a masked joint can lie beyond the paper's 3 encoder + 1 decoder GIN hops from every visible
    # joint: a masked arm's hand tip is 5 bones from the spine shoulder, and with 2 parts masked
    # up to 7 (torso + arm); 11 of the 15 pairs exceed 4 (skelssl.masking.body_parts.masked_reach).
    parts={
        "head": (2, 3),
        "torso": (0, 1, 20, 4, 8, 12, 16),
        "left_arm": (5, 6, 7, 21, 22),
        "right_arm": (9, 10, 11, 23, 24),
        "left_leg": (13, 14, 15),
        "right_leg": (17, 18, 19),
    },
    hips=(12, 16),
    left_right=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19),
                (21, 23), (22, 24)),
)  # fmt: skip

# Kinect v1 SDK (NUI_SKELETON_POSITION_INDEX) 20-joint order, as UTKinect-Action3D stores it
# (shared/data/real/utkinect_action3d/SOURCE.md, verified there from mean joint positions). It is
# NTU-25's first 20 joints, except that index 2 is the shoulder centre (Kinect v2 splits it into
# neck and spine shoulder). MSR Action3D files use another order and are reordered into this one
# when read (skelssl.data.sources.msr_action3d).
_KINECT20_NAMES = (
    "hip_center", "spine", "shoulder_center", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)  # fmt: skip

KINECT20 = Layout(
    name="kinect20",
    joint_names=_KINECT20_NAMES,
    # the Kinect v1 SDK skeleton hierarchy (root: hip centre)
    bones=((1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
           (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18)),
    center=1,  # spine, NTU-25's spine middle
    graph_center=2,  # shoulder centre, NTU-25's spine shoulder
    # the 6 regions as NTU-25's (head = neck-level joint + head; shoulders and hips in the torso)
    parts={
        "head": (2, 3),
        "torso": (0, 1, 4, 8, 12, 16),
        "left_arm": (5, 6, 7),
        "right_arm": (9, 10, 11),
        "left_leg": (13, 14, 15),
        "right_leg": (17, 18, 19),
    },
    hips=(12, 16),
    left_right=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19)),
)  # fmt: skip

# OpenNI / NiTE 15-joint skeleton in the order of SBU Kinect Interaction's skeleton_pos.txt
# (shared/data/real/sbu_kinect_interaction/SOURCE.md, from the authors' README).
_OPENNI15_NAMES = (
    "head", "neck", "torso",
    "shoulder_left", "elbow_left", "hand_left",
    "shoulder_right", "elbow_right", "hand_right",
    "hip_left", "knee_left", "foot_left",
    "hip_right", "knee_right", "foot_right",
)  # fmt: skip

OPENNI15 = Layout(
    name="openni15",
    joint_names=_OPENNI15_NAMES,
    # NiTE's limbs: head-neck, shoulders at the neck, neck-torso, hips at the torso (root: torso)
    bones=((0, 1), (1, 2), (3, 1), (4, 3), (5, 4), (6, 1), (7, 6), (8, 7),
           (9, 2), (10, 9), (11, 10), (12, 2), (13, 12), (14, 13)),
    center=2,  # torso, the spine-middle analogue
    graph_center=1,  # neck, the spine-shoulder analogue
    # the 6 regions as NTU-25's (head = neck + head; shoulders and hips in the torso)
    parts={
        "head": (0, 1),
        "torso": (2, 3, 6, 9, 12),
        "left_arm": (4, 5),
        "right_arm": (7, 8),
        "left_leg": (10, 11),
        "right_leg": (13, 14),
    },
    hips=(9, 12),
    left_right=((3, 6), (4, 7), (5, 8), (9, 12), (10, 13), (11, 14)),
)  # fmt: skip

# COCO person keypoints (17, 2D image coordinates), the input of graph SkeletonMAE (methods.md §3.1).
_COCO17_NAMES = (
    "nose", "eye_left", "eye_right", "ear_left", "ear_right",
    "shoulder_left", "shoulder_right", "elbow_left", "elbow_right", "wrist_left", "wrist_right",
    "hip_left", "hip_right", "knee_left", "knee_right", "ankle_left", "ankle_right",
)  # fmt: skip

COCO17 = Layout(
    name="coco17",
    joint_names=_COCO17_NAMES,
    # The tree of the ST-GCN/PYSKL "coco" graph (centre: nose): the COCO skeleton's face links
    # reduced to nose-eye-ear, shoulders linked to the nose, hips to their shoulders (no
    # shoulder-shoulder or hip-hip link, which would close cycles).
    bones=((1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7), (10, 8),
           (11, 5), (12, 6), (13, 11), (14, 12), (15, 13), (16, 14)),
    center=0,  # nose: the PYSKL graph centre; there is no mid-hip keypoint (*unverified* choice)
    graph_center=0,
    # graph SkeletonMAE's 6 regions (methods.md §3.1): head 5, torso 4, arms 2 + 2, legs 2 + 2
    parts={
        "head": (0, 1, 2, 3, 4),
        "torso": (5, 6, 11, 12),
        "left_arm": (7, 9),
        "right_arm": (8, 10),
        "left_leg": (13, 15),
        "right_leg": (14, 16),
    },
    hips=(11, 12),  # listed for completeness; view alignment needs 3D and is refused for 2D layouts
    left_right=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    channels=2,
)  # fmt: skip

# Penn Action's 13 annotated joints (2D image keypoints; shared/data/real/penn_action/SOURCE.md),
# in the dataset's joint order but named by the subject's anatomical side: the dataset's README calls
# joints 2, 4, ..., 12 "left", yet they behave as the subject's right (measured in
# skelssl.data.sources.penn_action, which swaps every documented pair into this layout).
_PENN13_NAMES = (
    "head",
    "shoulder_left", "shoulder_right", "elbow_left", "elbow_right", "wrist_left", "wrist_right",
    "hip_left", "hip_right", "knee_left", "knee_right", "ankle_left", "ankle_right",
)  # fmt: skip

PENN13 = Layout(
    name="penn13",
    joint_names=_PENN13_NAMES,
    # COCO-17's tree without the face (there is no neck or mid-hip joint): shoulders linked to the
    # head, hips to their shoulders, no shoulder-shoulder or hip-hip link (they would close cycles)
    bones=((1, 0), (2, 0), (3, 1), (4, 2), (5, 3), (6, 4), (7, 1), (8, 2), (9, 7), (10, 8),
           (11, 9), (12, 10)),
    center=0,  # head, as coco17's nose: the only midline joint, and the most often visible (93%)
    graph_center=0,  # the tree's centre (the only joint joining the two sides)
    # graph SkeletonMAE's 6 regions as coco17's: head 1, torso 4, arms 2 + 2, legs 2 + 2
    parts={
        "head": (0,),
        "torso": (1, 2, 7, 8),
        "left_arm": (3, 5),
        "right_arm": (4, 6),
        "left_leg": (9, 11),
        "right_leg": (10, 12),
    },
    hips=(7, 8),  # listed for completeness; view alignment needs 3D and is refused for 2D layouts
    left_right=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)),
    channels=2,
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {
    "ntu25": NTU25,
    "kinect20": KINECT20,
    "openni15": OPENNI15,
    "coco17": COCO17,
    "penn13": PENN13,
}


def joint_order(source_names: tuple[str, ...], layout: Layout) -> tuple[int, ...]:
    """Index map that reorders a source's joints into `layout`: layout joint i ← source joint
    `order[i]` (0-based), matched by name; use as `joints[..., order, :]`. ValueError unless the
    source names are exactly the layout's joints (no missing, extra or repeated name)."""
    if sorted(source_names) != sorted(layout.joint_names) or len(set(source_names)) != len(source_names):
        missing = sorted(set(layout.joint_names) - set(source_names))
        extra = sorted(set(source_names) - set(layout.joint_names))
        raise ValueError(f"source joints do not match layout {layout.name}: missing {missing}, "
                         f"unknown {extra}, or a name repeated")
    return tuple(source_names.index(name) for name in layout.joint_names)
