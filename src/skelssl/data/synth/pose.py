"""Anatomical pose trajectories and their conversion to joint positions.

A `Pose` describes one actor over T frames in handedness-free terms: sides are ``"dom"``
(dominant) and ``"off"``; lateral quantities point *outward* (arms, legs) or *towards the
dominant side* (trunk, root). `to_joints` maps the dominant side onto the body's right (or left,
for left-handed actors), drives the arms by two-bone IK towards wrist targets in the chest frame
and everything else by joint angles, plants the stance foot and puts the feet on the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from skelssl.data.synth.kinematics import (
    ARM,
    HEAD,
    LEFT,
    LEG,
    NECK,
    RIGHT,
    SPINE_MID,
    SPINE_SHOULDER,
    Array,
    Proportions,
    euler,
    forward_kinematics,
    rest_offsets,
    rot_x,
    rot_y,
    two_bone_ik,
)

SIDES = ("dom", "off")
DEFAULT_POLE = np.array([0.35, -1.0, -0.6])  # elbows bend down, out and back
LUMBAR_SHARE = 0.55  # share of trunk flexion/lean/twist taken by the lower spine


@dataclass
class Pose:
    """One actor's anatomical trajectory; every array has T rows. Angles in radians."""

    spine: Array  # (T, 3) flex forward, lean to the dominant side, twist to the dominant side
    head: Array  # (T, 2) nod down, turn to the dominant side
    wrist: dict[str, Array]  # (T, 3) target (outward, up, forward) from the chest joint, m
    pole: dict[str, Array]  # (T, 3) direction the elbow points to (outward, up, forward)
    hand: dict[str, Array]  # (T, 2) wrist flexion, finger curl
    leg: dict[str, Array]  # (T, 4) hip flexion, hip abduction, knee flexion, dorsiflexion
    # (the foot stays parallel to the floor at zero dorsiflexion, whatever hip and knee do)
    root: Array  # (T, 3) shift to the dominant side, lift off the floor, forward; metres
    yaw: Array  # (T,) turn towards the dominant side
    anchor: Array  # (T,) weight of the dominant foot as the planted one (0.5: both feet)

    def reversed(self) -> Pose:
        """The same motion played backwards."""
        return _map_arrays(self, lambda a: a[::-1].copy())


def _map_arrays(pose: Pose, fn: Callable[[Array], Array]) -> Pose:
    changes: dict[str, Any] = {}
    for f in fields(pose):
        value = getattr(pose, f.name)
        if isinstance(value, dict):
            changes[f.name] = {k: fn(v) for k, v in value.items()}
        else:
            changes[f.name] = fn(value)
    return replace(pose, **changes)


# ---------------------------------------------------------------------------- envelopes


def smooth(u: Array) -> Array:
    """Smoothstep of u clipped to [0, 1]: zero velocity at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def ramp(t: Array, t0: float, t1: float) -> Array:
    """0 before t0, 1 after t1, smooth in between."""
    return smooth((t - t0) / max(t1 - t0, 1e-6))


def bump(t: Array, t0: float, t1: float, t2: float, t3: float) -> Array:
    """Rise over [t0, t1], hold, fall over [t2, t3]."""
    return ramp(t, t0, t1) * (1 - ramp(t, t2, t3))


def keys(t: Array, times: npt.ArrayLike, values: npt.ArrayLike) -> Array:
    """Ease-in-out interpolation through keyframes; values (K,) or (K, D), times increasing."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[seg + 1] - times[seg], 1e-6)
    u = smooth((t - times[seg]) / span)
    if values.ndim == 2:
        u = u[:, None]
    out: Array = values[seg] + u * (values[seg + 1] - values[seg])
    return out


def oscillate(t: Array, t0: float, t1: float, cycles: float, phase: float = 0.0) -> Array:
    """sin oscillation with ``cycles`` periods over [t0, t1], zero outside."""
    u = np.clip((t - t0) / max(t1 - t0, 1e-6), 0.0, 1.0)
    return np.sin(2 * np.pi * cycles * u + phase) * ((t >= t0) & (t <= t1))


# ---------------------------------------------------------------------------- gait


def gait(
    pose: Pose,
    t: Array,
    t0: float,
    t1: float,
    steps: int,
    stride: float,
    leg_len: float,
    lead: str = "dom",
) -> None:
    """Add ``steps`` walking steps over [t0, t1] (feet together at both ends) to ``pose``.

    ``stride`` is the foot displacement of a full step (negative walks backwards); the root
    follows from planting the stance foot, so the feet do not slide.
    """
    alpha = float(np.arcsin(np.clip(stride / (2 * leg_len), -0.6, 0.6)))
    bounds = np.linspace(t0, t1, steps + 1)
    other = "off" if lead == "dom" else "dom"
    hips = {lead: [0.0], other: [0.0]}
    for i in range(steps):
        swing, stance = (lead, other) if i % 2 == 0 else (other, lead)
        last = i == steps - 1
        hips[swing].append(0.0 if last else alpha)
        hips[stance].append(0.0 if last else -alpha)
    anchor = pose.anchor.copy()
    for i in range(steps):
        swing, stance = (lead, other) if i % 2 == 0 else (other, lead)
        inside = (t >= bounds[i]) & (t < bounds[i + 1])
        anchor[inside] = 1.0 if stance == "dom" else 0.0
        lift = np.sin(np.pi * np.clip((t - bounds[i]) / (bounds[i + 1] - bounds[i]), 0, 1))
        pose.leg[swing][:, 2] += 0.7 * lift * inside
        pose.leg[swing][:, 0] += 0.15 * lift * inside
    for side in SIDES:
        pose.leg[side][:, 0] += keys(t, bounds, hips[side])
    pose.anchor = anchor


# ---------------------------------------------------------------------------- joints

CONTACTS = {"foot": 0.015, "ankle": 0.045, "knee": 0.03}  # floor clearance, fraction of height


def _arm_rotations(pose: Pose, body: Proportions, sides: dict[str, int]) -> dict[int, Array]:
    local: dict[int, Array] = {}
    shoulder = body.shoulder_offset
    for name, s in sides.items():
        _, elbow, wrist, hand, tip, thumb = ARM[s]
        target = pose.wrist[name] * (s, 1, 1) - shoulder * (s, 1, 1)
        pole = np.broadcast_to(pose.pole[name], target.shape) * (s, 1, 1)
        local[elbow], local[wrist] = two_bone_ik(target, pole, body.upper_arm, body.forearm)
        local[hand] = rot_x(-pose.hand[name][:, 0])
        # Curl turns tip and thumb together, so the tip-thumb bone keeps its length too.
        local[tip] = local[thumb] = rot_x(-1.2 * pose.hand[name][:, 1])
    return local


def _body_rotations(pose: Pose, dom: int) -> dict[int, Array]:
    local: dict[int, Array] = {}
    flex, lean, twist = pose.spine.T
    for joint, share in ((SPINE_MID, LUMBAR_SHARE), (SPINE_SHOULDER, 1 - LUMBAR_SHARE)):
        local[joint] = euler(share * flex, -dom * share * lean, dom * share * twist)
    local[NECK] = rot_y(dom * pose.head[:, 1]) @ rot_x(0.5 * pose.head[:, 0])
    local[HEAD] = rot_x(0.5 * pose.head[:, 0])
    for name, s in (("dom", dom), ("off", -dom)):
        _, knee, ankle, foot = LEG[s]
        hip_flex, abd, knee_flex, dorsi = pose.leg[name].T
        local[knee] = euler(-hip_flex, s * abd, np.zeros_like(abd))
        local[ankle] = rot_x(knee_flex)
        local[foot] = rot_x(hip_flex - knee_flex - dorsi)  # flat unless dorsiflexed
    return local


def _plant(pos: Array, anchor: Array, dom: int) -> Array:
    """(T, 3) root shift that keeps the weighted stance ankle still in the floor plane.

    Each frame's increment uses that frame's anchor weight on both ankle positions, so
    switching the stance foot never makes the root jump.
    """
    dom_ankle, off_ankle = pos[:, LEG[dom][2]], pos[:, LEG[-dom][2]]
    a = anchor[1:, None]
    step = a * np.diff(dom_ankle, axis=0) + (1 - a) * np.diff(off_ankle, axis=0)
    shift = np.zeros_like(dom_ankle)
    shift[1:] = -np.cumsum(step, axis=0)
    shift[:, 1] = 0.0
    return shift


def to_joints(pose: Pose, body: Proportions, dom: int) -> Array:
    """(T, 25, 3) joint positions on the floor (y = 0), body frame at frame 0, no facing yaw.

    ``dom`` is the body-frame x sign of the dominant side: RIGHT (-1) or LEFT (+1).
    """
    local = _body_rotations(pose, dom)
    local.update(_arm_rotations(pose, body, {"dom": dom, "off": -dom}))
    pos = forward_kinematics(rest_offsets(body), local, rot_y(dom * pose.yaw))
    pos += _plant(pos, pose.anchor, dom)[:, None]
    pos[:, :, 0] += dom * pose.root[:, 0:1]
    pos[:, :, 2] += pose.root[:, 2:3]
    contact = [
        pos[:, LEG[s][i], 1] - CONTACTS[name] * body.height
        for s in (LEFT, RIGHT)
        for i, name in ((3, "foot"), (2, "ankle"), (1, "knee"))
    ]
    floor = np.min(np.stack(contact, axis=1), axis=1)
    pos[:, :, 1] += (pose.root[:, 1] - floor)[:, None]
    return pos
