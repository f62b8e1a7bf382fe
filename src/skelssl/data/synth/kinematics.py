"""Forward kinematics of the NTU-25 skeleton, vectorised over frames.

Body frame: x to the body's left, y up, z forward (right-handed). The kinematic tree is rooted
at the spine base; every non-root joint hangs from its parent by a fixed rest offset (scaled
per subject), so bone lengths stay constant whatever the joint angles are. The hand tip and the
thumb both hang from the hand (the ST-GCN bone list attaches the tip to the thumb; as both are
rigid in the hand frame, every listed bone keeps its length too).

A joint's local rotation turns the bone from its parent and everything below it:
``G[child] = G[parent] @ R[child]`` and ``p[child] = p[parent] + G[child] @ offset[child]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]  # float arrays throughout the generator

NUM_JOINTS = 25
LEFT, RIGHT = 1, -1  # sign of the body-frame x axis on each side

# Kinematic parent of every joint (0-based NTU order); -1 for the root (spine base).
PARENT = np.array(
    [-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11]
)
# Parents before children.
ORDER = (0, 1, 20, 2, 3, 4, 5, 6, 7, 21, 22, 8, 9, 10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19)

# Joint indices per side: (shoulder, elbow, wrist, hand, handtip, thumb), (hip, knee, ankle, foot).
ARM = {LEFT: (4, 5, 6, 7, 21, 22), RIGHT: (8, 9, 10, 11, 23, 24)}
LEG = {LEFT: (12, 13, 14, 15), RIGHT: (16, 17, 18, 19)}
SPINE_BASE, SPINE_MID, NECK, HEAD, SPINE_SHOULDER = 0, 1, 2, 3, 20
MAX_BEND = np.radians(150.0)  # most an elbow folds


@dataclass(frozen=True)
class Proportions:
    """Body measures of one subject, metres."""

    height: float
    arm: float = 1.0  # arm length ratio
    leg: float = 1.0  # leg length ratio
    shoulder: float = 1.0  # shoulder width ratio
    hip: float = 1.0  # hip width ratio

    @property
    def upper_arm(self) -> float:
        return 0.186 * self.height * self.arm

    @property
    def forearm(self) -> float:
        return 0.146 * self.height * self.arm

    @property
    def shoulder_offset(self) -> Array:
        """Left shoulder relative to the spine-shoulder joint (chest frame)."""
        return np.array([0.105 * self.shoulder, -0.02, 0.0]) * self.height


def rest_offsets(body: Proportions) -> Array:
    """(25, 3) offset of every joint from its kinematic parent in the rest pose (arms down)."""
    h, a, g = body.height, body.arm, body.leg
    off = np.zeros((NUM_JOINTS, 3))
    off[SPINE_MID] = (0, 0.16 * h, -0.01 * h)
    off[SPINE_SHOULDER] = (0, 0.14 * h, 0.005 * h)
    off[NECK] = (0, 0.05 * h, 0.005 * h)
    off[HEAD] = (0, 0.07 * h, 0.01 * h)
    for side in (LEFT, RIGHT):
        sh, el, wr, hd, tip, th = ARM[side]
        off[sh] = body.shoulder_offset * (side, 1, 1)
        off[el] = (0, -body.upper_arm, 0)
        off[wr] = (0, -body.forearm, 0)
        off[hd] = (0, -0.040 * h * a, 0.004 * h)
        off[tip] = (0, -0.050 * h * a, 0.004 * h)
        off[th] = (-side * 0.012 * h, -0.018 * h * a, 0.022 * h)
        hip, knee, ankle, foot = LEG[side]
        off[hip] = (side * 0.055 * h * body.hip, -0.03 * h, 0)
        off[knee] = (0, -0.230 * h * g, 0)
        off[ankle] = (0, -0.220 * h * g, 0)
        off[foot] = (0, -0.030 * h, 0.060 * h)
    return off


def rot_x(angle: Array) -> Array:
    """(T, 3, 3) rotations about x; positive turns +y towards +z."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 0, 0] = 1
    out[..., 1, 1], out[..., 1, 2], out[..., 2, 1], out[..., 2, 2] = c, -s, s, c
    return out


def rot_y(angle: Array) -> Array:
    """(T, 3, 3) rotations about y (vertical); positive turns +z (forward) towards +x (left)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 1, 1] = 1
    out[..., 0, 0], out[..., 0, 2], out[..., 2, 0], out[..., 2, 2] = c, s, -s, c
    return out


def rot_z(angle: Array) -> Array:
    """(T, 3, 3) rotations about z; positive turns +x towards +y (a hanging bone towards +x)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 2, 2] = 1
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = c, -s, s, c
    return out


def euler(pitch: Array, roll: Array, yaw: Array) -> Array:
    """``Ry(yaw) @ Rx(pitch) @ Rz(roll)``: roll sideways, then pitch, then turn about vertical."""
    out: Array = rot_y(yaw) @ rot_x(pitch) @ rot_z(roll)
    return out


def _unit(v: Array) -> Array:
    out: Array = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    return out


def two_bone_ik(target: Array, pole: Array, upper: float, lower: float) -> tuple[Array, Array]:
    """Rotations of a two-bone chain (rest direction -y) whose end reaches ``target``.

    ``target`` (T, 3) is the end point relative to the chain root in the root's parent frame;
    ``pole`` (T, 3) is the direction the middle joint should bend away to. The middle joint is
    a hinge about its local x axis that only folds the lower bone forward (``rot_x(-bend)``),
    like an elbow, by at most MAX_BEND. Targets out of reach give a straight chain pointing at
    them; targets too close give the most folded chain pointing at them.
    """
    dist = np.linalg.norm(target, axis=-1)
    folded = np.sqrt(upper**2 + lower**2 + 2 * upper * lower * np.cos(MAX_BEND))
    dist = np.clip(dist, folded, upper + lower - 1e-4)
    cos_inner = (upper**2 + lower**2 - dist**2) / (2 * upper * lower)
    bend = np.pi - np.arccos(np.clip(cos_inner, -1.0, 1.0))
    lower_rot = rot_x(-bend)
    # End point in the upper bone's frame, and the unit vectors of both bases.
    local = np.stack(
        [np.zeros_like(bend), -upper - lower * np.cos(bend), lower * np.sin(bend)], axis=-1
    )
    a_loc = _unit(local)
    p_loc = np.cross(np.array([1.0, 0.0, 0.0]), a_loc)
    a_par = _unit(target)
    pole = np.broadcast_to(pole, target.shape)
    p_par = _unit(pole - np.sum(pole * a_par, axis=-1, keepdims=True) * a_par)
    basis_loc = np.stack([a_loc, p_loc, np.cross(a_loc, p_loc)], axis=-1)
    basis_par = np.stack([a_par, p_par, np.cross(a_par, p_par)], axis=-1)
    return basis_par @ np.swapaxes(basis_loc, -1, -2), lower_rot


def forward_kinematics(offsets: Array, local: dict[int, Array], root: Array) -> Array:
    """(T, 25, 3) joint positions with the spine base at the origin.

    ``local`` maps joint index to its (T, 3, 3) local rotation (absent: identity); ``root`` is
    the (T, 3, 3) global orientation of the spine base.
    """
    frames = root.shape[0]
    glob: dict[int, Array] = {SPINE_BASE: root}
    pos = np.zeros((frames, NUM_JOINTS, 3))
    for j in ORDER[1:]:
        parent = int(PARENT[j])
        g = glob[parent] @ local[j] if j in local else glob[parent]
        glob[j] = g
        pos[:, j] = pos[:, parent] + g @ offsets[j]
    return pos
