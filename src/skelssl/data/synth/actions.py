"""The action library: one-person actions and the class list (`ACTIONS`).

Every action is a function of normalised time (``ctx.t``) and the sample's style (``ctx``):
timings come from ``ctx.window`` (faster actors take less of the clip), extents scale with
``ctx.amp`` and the actor's height. Several classes share their static poses on purpose and
differ only in temporal order (sit down / stand up, pick up / put down, put on / take off a hat),
in the limbs that move (wave one / both hands, kick / step forward) or in rhythm (clap / rub).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skelssl.data.synth import interactions as inter
from skelssl.data.synth.pose import SIDES, Pose, bump, gait, keys, oscillate, ramp
from skelssl.data.synth.style import Ctx, blend, kick_leg, wrist_path


@dataclass(frozen=True)
class Action:
    name: str
    two_person: bool
    make: Callable[..., Any]  # (ctx) -> Pose, or (ctx_a, ctx_b) -> (Pose, Pose, gap in metres)
    lateral: bool = True  # left-handed actors mirror it


def sit_down(c: Ctx) -> Pose:
    """Lower onto a chair behind, leaning forward during the transfer; hands often end on the
    thighs."""
    p, t, w = c.rest(), c.t, c.window(0.8)
    on_thighs = c.rng.random() < 0.7
    sit = ramp(t, w(0.1), w(0.75))
    lean = bump(t, w(0.05), w(0.4), w(0.5), w(0.95))
    for side in SIDES:
        p.leg[side][:, 0] += sit * c.rng.uniform(1.4, 1.6)
        p.leg[side][:, 2] += sit * c.rng.uniform(1.45, 1.65)
        p.leg[side][:, 1] += sit * 0.06
        if on_thighs:
            thigh = c.point(c.rng.uniform(0.08, 0.12), -0.29, c.rng.uniform(0.14, 0.2))
            p.wrist[side] = blend(p.wrist[side], thigh, ramp(t, w(0.3), w(0.85)))
    p.spine[:, 0] += 0.55 * c.amp * lean - 0.06 * sit
    p.head[:, 0] += 0.15 * lean
    return p


def stand_up(c: Ctx) -> Pose:
    return sit_down(c).reversed()


def wave(c: Ctx, both: bool) -> Pose:
    """Raise one or both hands beside the head and swing the forearm(s) side to side."""
    p, t, w = c.rest(), c.t, c.window(0.85)
    up = bump(t, w(0.0), w(0.2), w(0.8), w(1.0))
    rate = c.rng.uniform(1.4, 2.4)
    swing = oscillate(t, w(0.2), w(0.8), c.cycles(rate, 0.2, 0.8, w), c.rng.uniform(-0.5, 0.5))
    high, ahead = c.rng.uniform(0.0, 0.17), c.rng.uniform(0.03, 0.2)
    for side in SIDES if both else ("dom",):
        raised = c.point(c.rng.uniform(0.16, 0.24), high, ahead)
        lateral = swing * 0.07 * c.height * c.amp
        target = raised + np.stack([lateral, -0.3 * np.abs(lateral), 0 * lateral], axis=1)
        p.wrist[side] = blend(p.wrist[side], target, up)
        p.pole[side] = blend(p.pole[side], np.array([0.7, -1.0, 0.1]), up)
        p.hand[side][:, 0] += 0.25 * swing * up
    return p


def pick_up(c: Ctx) -> Pose:
    """Squat and bend, grasp something on the floor (dominant or both hands), rise holding it."""
    p, t, w = c.rest(), c.t, c.window(0.8)
    down = bump(t, w(0.0), w(0.35), w(0.55), w(0.9))
    depth = c.amp * c.rng.uniform(0.85, 1.1)
    for side in SIDES:
        p.leg[side][:, 0] += 0.9 * depth * down
        p.leg[side][:, 2] += 1.3 * depth * down
    p.spine[:, 0] += 0.95 * depth * down
    p.head[:, 0] += 0.3 * down
    for side in SIDES:
        p.wrist[side] = c.hang(p.spine[:, 0], 0.01 if side == "off" else -0.04)
    hold = c.point(0.09, c.rng.uniform(-0.33, -0.2), c.rng.uniform(0.13, 0.2))
    for side in SIDES if c.rng.random() < 0.3 else ("dom",):
        p.wrist[side][:, 2] += 0.08 * c.height * down
        p.wrist[side] = blend(p.wrist[side], hold, ramp(t, w(0.6), w(0.95)))
        p.hand[side][:, 1] = keys(t, w([0.0, 0.4, 0.5]), [0.1, 0.1, 0.9])
    return p


def put_down(c: Ctx) -> Pose:
    return pick_up(c).reversed()


def put_on_hat(c: Ctx) -> Pose:
    """Hold a hat in front of the chest, lift it onto the head, settle it, lower the hands."""
    p, t, w = c.rest(), c.t, c.window(0.85)
    front = c.point(0.09, -0.2, 0.19)
    top = c.point(0.075, 0.165, 0.03)
    settle = oscillate(t, w(0.4), w(0.6), 1.5) * 0.02 * c.height
    for side in SIDES:
        wrist_path(p, side, t, w([0.05, 0.35, 0.6, 0.95]), [front, top, top, None])
        p.wrist[side][:, 1] += settle
        p.pole[side] = blend(
            p.pole[side], np.array([1.0, -0.3, 0.0]), bump(t, *w([0.1, 0.35, 0.6, 0.85]))
        )
        p.hand[side][:, 1] = keys(t, w([0.55, 0.7]), [0.7, 0.2])
    p.head[:, 0] += 0.12 * bump(t, *w([0.25, 0.4, 0.55, 0.7]))
    return p


def take_off_hat(c: Ctx) -> Pose:
    return put_on_hat(c).reversed()


def clap(c: Ctx) -> Pose:
    """Bring the hands together in front of the chest and clap a few times (big, ~2.5 Hz)."""
    p, t, w = c.rest(), c.t, c.window(0.85)
    up = bump(t, *w([0.0, 0.15, 0.85, 1.0]))
    n = max(2, round(c.cycles(c.rng.uniform(2.0, 3.0), 0.15, 0.85, w)))
    u = np.clip((t - w(0.15)) / (w(0.85) - w(0.15)), 0, 1)
    width = c.rng.uniform(0.07, 0.14) * c.height * c.amp
    spread = 0.5 * (1 - np.cos(2 * np.pi * n * u)) * width
    meet = c.point(0.03, c.rng.uniform(-0.2, 0.02), c.rng.uniform(0.17, 0.25))
    for side in SIDES:
        target = meet + np.stack([spread, 0 * spread, -0.2 * spread], axis=1)
        p.wrist[side] = blend(p.wrist[side], target, up)
        p.hand[side][:, 1] = blend(p.hand[side][:, 1:], np.zeros(1), up)[:, 0]
    return p


def rub_hands(c: Ctx) -> Pose:
    """Hands pressed together in front of the belly, rubbed quickly back and forth (~4 Hz)."""
    p, t, w = c.rest(), c.t, c.window(0.85)
    up = bump(t, *w([0.0, 0.15, 0.85, 1.0]))
    rub = oscillate(t, w(0.15), w(0.85), c.cycles(4.0, 0.15, 0.85, w)) * 0.025 * c.height
    meet = c.point(0.03, c.rng.uniform(-0.24, -0.16), c.rng.uniform(0.16, 0.2))
    for side, sign in (("dom", 1.0), ("off", -1.0)):
        target = meet + np.stack([0 * rub, 0.3 * sign * rub, sign * rub], axis=1)
        p.wrist[side] = blend(p.wrist[side], target, up)
    return p


def kick(c: Ctx) -> Pose:
    """Front kick with the dominant leg, back to standing."""
    p, t, w = c.rest(), c.t, c.window(0.55)
    kick_leg(p, t, w, c.amp, high=c.rng.uniform(0.7, 1.15))
    p.wrist["off"] = blend(
        p.wrist["off"], c.point(0.14, -0.25, 0.14), bump(t, *w([0.1, 0.35, 0.6, 0.9]))
    )
    return p


def step_forward(c: Ctx) -> Pose:
    """One step forward with the dominant leg, the other foot joins it."""
    p, t, w = c.rest(), c.t, c.window(0.55)
    gait(p, t, w(0), w(1), 2, c.rng.uniform(0.4, 0.6) * c.amp, 0.45 * c.height)
    swing = oscillate(t, w(0), w(1), 0.5) * 0.06 * c.height
    p.wrist["off"][:, 2] += swing
    p.wrist["dom"][:, 2] -= swing
    return p


def drink_water(c: Ctx) -> Pose:
    """Raise a cup from chest height to the mouth, tilt the head back, put it down again."""
    p, t, w = c.rest(), c.t, c.window(0.85)
    chest = c.point(0.08, c.rng.uniform(-0.25, -0.12), c.rng.uniform(0.14, 0.2))
    mouth = c.point(0.03, c.rng.uniform(0.03, 0.06), 0.11)
    wrist_path(
        p, "dom", t, w([0.0, 0.2, 0.4, 0.7, 0.85, 1.0]), [None, chest, mouth, mouth, chest, None]
    )
    p.hand["dom"][:, 1] = 0.8
    tilt = bump(t, *w([0.35, 0.45, 0.65, 0.75]))
    p.head[:, 0] -= c.rng.uniform(0.2, 0.5) * tilt * c.amp
    p.hand["dom"][:, 0] -= 0.4 * tilt
    return p


def phone_call(c: Ctx) -> Pose:
    """Hold a phone to the ear (usually on the dominant side) and talk (small head nods)."""
    p, t, w = c.rest(), c.t, c.window(0.9)
    side = "dom" if c.rng.random() < 0.75 else "off"
    ear = c.point(0.07, c.rng.uniform(0.07, 0.1), 0.03)
    wrist_path(p, side, t, w([0.0, 0.25, 0.85, 1.0]), [None, ear, ear, None])
    p.pole[side] = blend(
        p.pole[side], np.array([0.8, -1.0, 0.1]), bump(t, *w([0.0, 0.25, 0.85, 1.0]))
    )
    held = bump(t, *w([0.15, 0.3, 0.8, 0.95]))
    p.spine[:, 1] += (0.06 if side == "dom" else -0.06) * held
    p.head[:, 0] += 0.08 * oscillate(t, w(0.3), w(0.8), 2.0) * held
    p.hand[side][:, 1] = 0.8
    return p


def jump_up(c: Ctx) -> Pose:
    """Crouch with the arms back, jump straight up swinging the arms, land softly."""
    p, t, w = c.rest(), c.t, c.window(0.7)
    times = w([0.0, 0.3, 0.42, 0.62, 0.74, 1.0])
    crouch = keys(t, times, [0.0, 1.0, 0.0, 0.0, 0.7, 0.0])
    swing_arms = c.rng.random() < 0.65
    for side in SIDES:
        p.leg[side][:, 0] += 0.8 * crouch
        p.leg[side][:, 2] += 1.1 * crouch
        p.leg[side][:, 3] -= 0.5 * bump(t, *w([0.38, 0.45, 0.58, 0.64]))
        if swing_arms:
            back, up = c.point(0.15, -0.3, -0.12), c.point(0.16, c.rng.uniform(0.0, 0.2), 0.18)
            wrist_path(p, side, t, times, [None, back, up, None, None, None])
    p.spine[:, 0] += 0.45 * crouch
    v = np.clip((t - w(0.42)) / (w(0.62) - w(0.42)), 0, 1)
    p.root[:, 1] += 4 * v * (1 - v) * c.rng.uniform(0.12, 0.25) * c.amp
    return p


def throw(c: Ctx) -> Pose:
    """Overarm throw: wind up behind the head, whip forward, follow through across the body."""
    p, t, w = c.rest(), c.t, c.window(0.65)
    times = w([0.0, 0.35, 0.5, 0.62, 1.0])
    back = c.point(0.17, 0.11, -0.12)
    release = c.point(0.1, c.rng.uniform(0.0, 0.15), 0.3)
    follow = c.point(-0.05, -0.3, 0.2)
    wrist_path(p, "dom", t, times, [None, back, release, follow, None])
    p.pole["dom"] = blend(p.pole["dom"], np.array([1.0, 0.2, -0.4]), bump(t, *times[[0, 1, 2, 3]]))
    wrist_path(p, "off", t, times, [None, c.point(0.15, -0.05, 0.25), None, None, None])
    p.spine[:, 2] += keys(t, times, [0.0, 0.45, 0.0, -0.35, 0.0]) * c.amp
    p.spine[:, 0] += keys(t, times, [0.0, -0.12, 0.1, 0.3, 0.0])
    p.leg["off"][:, 0] += 0.25 * bump(t, *times[[0, 1, 3, 4]])
    p.anchor = np.where((t > times[0]) & (t < times[4]), 1.0, p.anchor)
    return p


def bow(c: Ctx) -> Pose:
    """Bow from the hips, hold briefly, straighten up."""
    p, t, w = c.rest(), c.t, c.window(0.7)
    down = bump(t, *w([0.0, 0.35, 0.6, 0.95]))
    p.spine[:, 0] += down * c.rng.uniform(0.5, 0.85) * c.amp
    p.head[:, 0] += 0.25 * down
    if c.rng.random() < 0.6:  # arms hang; otherwise they keep their resting posture
        for side in SIDES:
            p.wrist[side] = c.hang(p.spine[:, 0], 0.0)
    return p


def touch_head(c: Ctx) -> Pose:
    """Headache: press a hand to the forehead (or both to the temples), head bowed, a while."""
    p, t, w = c.rest(), c.t, c.window(0.9)
    if c.rng.random() < 0.7:
        brow = c.point(0.01, c.rng.uniform(0.11, 0.14), 0.1)
        wrist_path(p, "dom", t, w([0.0, 0.3, 0.8, 1.0]), [None, brow, brow, None])
    else:
        temple = c.point(0.08, c.rng.uniform(0.1, 0.13), 0.05)
        for side in SIDES:
            wrist_path(p, side, t, w([0.0, 0.3, 0.8, 1.0]), [None, temple, temple, None])
    held = bump(t, *w([0.2, 0.35, 0.75, 0.9]))
    p.head[:, 0] += 0.25 * held
    p.spine[:, 0] += 0.08 * held
    p.hand["dom"][:, 0] -= 0.3 * held
    return p


def salute(c: Ctx) -> Pose:
    """Snap the right hand to the brow, hold, drop it."""
    p, t, w = c.rest(), c.t, c.window(0.75)
    brow = c.point(c.rng.uniform(0.04, 0.08), 0.13, 0.09)
    wrist_path(p, "dom", t, w([0.0, 0.15, 0.8, 1.0]), [None, brow, brow, None])
    p.pole["dom"] = blend(
        p.pole["dom"], np.array([1.0, -0.2, 0.3]), bump(t, *w([0.0, 0.15, 0.8, 1.0]))
    )
    p.hand["dom"][:, 1] = 0.0
    return p


ACTIONS: list[Action] = [
    Action("sit_down", False, sit_down),
    Action("stand_up", False, stand_up),
    Action("handshake", True, inter.handshake, lateral=False),
    Action("wave_one_hand", False, lambda c: wave(c, both=False)),
    Action("wave_both_hands", False, lambda c: wave(c, both=True)),
    Action("pick_up", False, pick_up),
    Action("put_down", False, put_down),
    Action("hug", True, inter.hug),
    Action("clap", False, clap),
    Action("rub_hands", False, rub_hands),
    Action("kick", False, kick),
    Action("step_forward", False, step_forward),
    Action("push_other", True, inter.push),
    Action("put_on_hat", False, put_on_hat),
    Action("take_off_hat", False, take_off_hat),
    Action("drink_water", False, drink_water),
    Action("phone_call", False, phone_call),
    Action("punch_other", True, inter.punch),
    Action("jump_up", False, jump_up),
    Action("touch_head", False, touch_head),
    Action("throw", False, throw),
    Action("bow", False, bow),
    Action("kick_other", True, inter.kick_other),
    Action("salute", False, salute, lateral=False),
    Action("give_object", True, inter.give_object),
]
