"""Two-person actions. Both actors face each other ``gap`` metres apart (root to root).

Each function returns (actor A's pose, actor B's pose, gap). Timing is shared: both actors use
A's window (B reacts a little later) so contacts happen together. Targets that involve the
other person are placed from nominal heights: a chest joint stands at 0.82 of body height.
"""

from __future__ import annotations

import numpy as np

from skelssl.data.synth.kinematics import Array
from skelssl.data.synth.pose import SIDES, Pose, bump, gait, keys, oscillate
from skelssl.data.synth.style import Ctx, Window, blend, kick_leg, wrist_path

CHEST = 0.82  # chest-joint height / body height when standing


def _at_height(c: Ctx, outward: float, height: float, forward: float) -> Array:
    """Chest-frame point of ``c`` at a world height above the floor (metres)."""
    return np.array([outward, height - CHEST * c.height, forward])


def _lagged(win: Window, lag: float) -> Window:
    return lambda u: win(u) + lag


def handshake(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """Reach out the right hands, shake them up and down together, let go."""
    gap = a.rng.uniform(0.8, 1.0)
    w = a.window(0.85)
    height = a.rng.uniform(0.9, 1.05)
    shake = oscillate(a.t, w(0.32), w(0.68), a.cycles(2.2, 0.32, 0.68, w)) * 0.035 * a.amp
    poses = []
    for c, lag in ((a, 0.0), (b, b.rng.uniform(0.0, 0.04))):
        p, t, wc = c.rest(), c.t, _lagged(w, lag)
        meet = _at_height(c, 0.02 * c.height, height, gap / 2 - 0.04 * c.height)
        wrist_path(p, "dom", t, wc([0.0, 0.3, 0.7, 1.0]), [None, meet, meet, None])
        p.wrist["dom"][:, 1] += shake
        held = bump(t, *wc([0.0, 0.3, 0.7, 1.0]))
        p.spine[:, 0] += 0.1 * held
        p.hand["dom"][:, 1] = blend(p.hand["dom"][:, 1:], np.array([0.75]), held)[:, 0]
        poses.append(p)
    return poses[0], poses[1], gap


def hug(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """Both step in; A's arms go over B's shoulders, B's around A's waist; A pats; release."""
    close = a.rng.uniform(0.33, 0.42)
    steps = (a.rng.uniform(0.22, 0.35) * a.amp, b.rng.uniform(0.12, 0.28))
    w = a.window(0.9)
    poses = []
    for c, step, high in ((a, steps[0], True), (b, steps[1], False)):
        p, t = c.rest(), c.t
        gait(p, t, w(0.0), w(0.3), 2, step, 0.45 * c.height)
        height = (1.28 if high else 1.02) * c.height / 1.7
        for side in SIDES:
            behind = _at_height(c, 0.05 * c.height, height, close + 0.1)
            wrist_path(p, side, t, w([0.15, 0.4, 0.8, 0.97]), [None, behind, behind, None])
            p.pole[side] = blend(
                p.pole[side], np.array([1.0, 0.0, -0.2]), bump(t, *w([0.15, 0.4, 0.8, 0.97]))
            )
        held = bump(t, *w([0.25, 0.4, 0.8, 0.95]))
        p.spine[:, 0] += 0.12 * held
        p.head[:, 1] += 0.35 * held
        if high:
            p.wrist["dom"][:, 1] += oscillate(t, w(0.45), w(0.75), 2.0) * 0.03 * held
        poses.append(p)
    return poses[0], poses[1], close + steps[0] + steps[1]


def push(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """A shoves B in the chest with both hands; B leans back and stumbles backwards."""
    gap = a.rng.uniform(0.62, 0.75)
    w = a.window(0.8)
    pa, t = a.rest(), a.t
    prep = a.point(0.1, -0.12, 0.12)
    contact = _at_height(a, 0.1 * a.height, 0.72 * b.height, gap - 0.13)
    extended = contact + np.array([0.0, 0.0, 0.25])
    for side in SIDES:
        wrist_path(
            pa, side, t, w([0.0, 0.22, 0.34, 0.45, 0.8]), [None, prep, contact, extended, None]
        )
    pa.spine[:, 0] += 0.25 * a.amp * bump(t, *w([0.2, 0.35, 0.5, 0.8]))
    pb = b.rest()
    hit = bump(t, *w([0.33, 0.4, 0.6, 0.9]))
    pb.spine[:, 0] -= 0.3 * hit
    pb.head[:, 0] -= 0.25 * hit
    for side in SIDES:
        pb.wrist[side] = blend(pb.wrist[side], b.point(0.22, -0.18, 0.12), hit)
    gait(pb, t, w(0.38), w(0.75), 3, -b.rng.uniform(0.28, 0.4), 0.45 * b.height, lead="off")
    return pa, pb, gap


def punch(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """A raises a guard and throws one or two jabs at B's face; B's head snaps back, B retreats."""
    gap = a.rng.uniform(0.7, 0.85)
    w = a.window(0.75)
    pa, t = a.rest(), a.t
    guard = a.point(0.07, 0.0, 0.14)
    for side in SIDES:
        wrist_path(pa, side, t, w([0.0, 0.2, 0.9, 1.0]), [None, guard, guard, None])
        pa.pole[side] = blend(
            pa.pole[side], np.array([0.3, -1.0, 0.0]), bump(t, *w([0.0, 0.2, 0.9, 1.0]))
        )
        pa.hand[side][:, 1] = 1.0
    face = _at_height(a, 0.0, 0.93 * b.height, gap - 0.12)
    pb = b.rest()
    n = 1 + int(a.rng.random() < 0.5)
    for k in range(n):
        u = 0.3 + 0.25 * k
        jab = bump(t, *w([u, u + 0.06, u + 0.1, u + 0.2]))
        pa.wrist["dom"] = blend(pa.wrist["dom"], face, jab)
        pa.spine[:, 2] -= 0.3 * jab
        reel = bump(t, *w([u + 0.05, u + 0.1, u + 0.16, u + 0.35]))
        pb.head[:, 0] -= 0.4 * reel
        pb.spine[:, 0] -= 0.12 * reel
    cover = bump(t, *w([0.4, 0.55, 0.85, 1.0]))
    for side in SIDES:
        pb.wrist[side] = blend(pb.wrist[side], b.point(0.06, 0.03, 0.13), cover)
    gait(
        pb, t, w(0.5 + 0.25 * (n - 1)) - 0.1, w(0.95), 2, -b.rng.uniform(0.2, 0.3), 0.45 * b.height
    )
    return pa, pb, gap


def give_object(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """A holds something at chest height and hands it over; B reaches, takes it, keeps it."""
    gap = a.rng.uniform(0.9, 1.1)
    w = a.window(0.85)
    height = a.rng.uniform(0.95, 1.1)
    pa, pb, t = a.rest(), b.rest(), a.t
    meet_a = _at_height(a, 0.02 * a.height, height, gap / 2 - 0.03 * a.height)
    meet_b = _at_height(b, 0.02 * b.height, height, gap / 2 - 0.03 * b.height)
    hold_a, hold_b = a.point(0.08, -0.22, 0.18), b.point(0.08, -0.22, 0.18)
    wrist_path(pa, "dom", t, w([0.0, 0.4, 0.6, 0.9]), [hold_a, meet_a, meet_a, None])
    wrist_path(pb, "dom", t, w([0.2, 0.45, 0.6, 0.9]), [None, meet_b, meet_b, hold_b])
    pa.hand["dom"][:, 1] = keys(t, w([0.55, 0.65]), [0.7, 0.15])
    pb.hand["dom"][:, 1] = keys(t, w([0.5, 0.6]), [0.15, 0.7])
    pa.spine[:, 0] += 0.08 * bump(t, *w([0.2, 0.4, 0.6, 0.8]))
    pb.spine[:, 0] += 0.08 * bump(t, *w([0.3, 0.45, 0.6, 0.8]))
    return pa, pb, gap


def kick_other(a: Ctx, b: Ctx) -> tuple[Pose, Pose, float]:
    """A front-kicks B in the stomach; B doubles over, clutches the belly and steps back."""
    gap = a.rng.uniform(0.85, 1.0)
    w = a.window(0.6)
    pa, pb, t = a.rest(), b.rest(), a.t
    kick_leg(pa, t, w, a.amp, high=1.1)
    for side in SIDES:
        guard = a.point(0.12, -0.15, 0.12)
        pa.wrist[side] = blend(pa.wrist[side], guard, bump(t, *w([0.1, 0.3, 0.65, 0.9])))
    hurt = bump(t, *w([0.43, 0.5, 0.75, 1.0]))
    pb.spine[:, 0] += 0.5 * hurt
    pb.head[:, 0] += 0.2 * hurt
    for side in SIDES:
        pb.wrist[side] = blend(pb.wrist[side], b.point(0.05, -0.3, 0.13), hurt)
    gait(pb, t, w(0.47), w(0.85), 2, -b.rng.uniform(0.2, 0.3), 0.45 * b.height)
    return pa, pb, gap
