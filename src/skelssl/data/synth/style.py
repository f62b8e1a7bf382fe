"""Subjects (per-performer traits) and the per-sample context an action is generated in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skelssl.data.synth.kinematics import LEFT, RIGHT, Array, Proportions
from skelssl.data.synth.pose import DEFAULT_POLE, SIDES, Pose, keys

FPS = 30.0
SUBJECT_STREAM = 101  # seed tag of the per-subject random stream
LEFT_HANDED_PROB = 0.15

# Resting arm postures: name, probability, wrist (outward, up, forward) / height, elbow pole.
REST_ARMS = (
    ("hang", 0.55, (0.0, 0.0, 0.0), DEFAULT_POLE),
    ("front", 0.2, (0.04, -0.33, 0.12), DEFAULT_POLE),
    ("hips", 0.12, (0.15, -0.3, 0.0), np.array([1.0, 0.0, -0.3])),
    ("behind", 0.13, (0.05, -0.35, -0.1), DEFAULT_POLE),
)

# Maps action-local time (a float or a sequence) to clip time, of the same shape.
Window = Callable[[Any], Any]


@dataclass(frozen=True)
class Subject:
    """Stable traits of one performer."""

    body: Proportions
    speed: float  # > 1: moves faster
    amplitude: float  # scale of motion extents
    left_handed: bool
    lean: float  # resting trunk flexion, radians
    head: float  # resting head nod, radians
    arm_out: float  # resting outward offset of the hands, fraction of height
    stance: float  # resting hip abduction, radians
    knee: float  # resting knee flexion, radians


def make_subject(seed: int, performer: int) -> Subject:
    """Traits of performer ``performer``, a function of (seed, performer) only."""
    rng = np.random.default_rng([seed, SUBJECT_STREAM, performer])
    height = float(np.clip(rng.normal(1.70, 0.09), 1.52, 1.88))
    body = Proportions(
        height=height,
        arm=float(rng.uniform(0.95, 1.05)),
        leg=float(rng.uniform(0.95, 1.05)),
        shoulder=float(rng.uniform(0.90, 1.10)),
        hip=float(rng.uniform(0.90, 1.10)),
    )
    return Subject(
        body=body,
        speed=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.85, 1.15)),
        left_handed=bool(rng.random() < LEFT_HANDED_PROB),
        lean=float(rng.uniform(-0.03, 0.10)),
        head=float(rng.uniform(-0.08, 0.15)),
        arm_out=float(rng.uniform(0.0, 0.025)),
        stance=float(rng.uniform(0.0, 0.08)),
        knee=float(rng.uniform(0.0, 0.08)),
    )


@dataclass
class Ctx:
    """Everything an action needs to generate one actor's trajectory for one sample."""

    t: Array  # (T,) normalised time in [0, 1]
    subject: Subject
    rng: np.random.Generator  # this actor's stream for this sample
    dom: int  # body-frame side of the dominant hand (RIGHT or LEFT)
    speed: float
    amp: float

    @classmethod
    def create(cls, frames: int, subject: Subject, rng: np.random.Generator, lateral: bool) -> Ctx:
        """Draw the per-sample style; ``lateral=False`` forces the right hand (handshake...)."""
        dom = LEFT if (lateral and subject.left_handed) else RIGHT
        speed = subject.speed * float(rng.uniform(0.85, 1.15))
        amp = subject.amplitude * float(rng.uniform(0.88, 1.12))
        # Monotone time warp (derivative 1 + warp cos(2 pi t) > 0): uneven pace within a sample.
        lin = np.linspace(0.0, 1.0, frames)
        warp = float(rng.uniform(-0.5, 0.5))
        t = lin + warp * np.sin(2 * np.pi * lin) / (2 * np.pi)
        return cls(t, subject, rng, dom, speed, amp)

    @property
    def frames(self) -> int:
        return int(self.t.shape[0])

    @property
    def height(self) -> float:
        return self.subject.body.height

    @property
    def seconds(self) -> float:
        return self.frames / FPS

    def window(self, length: float) -> Window:
        """Map action-local time u in [0, 1] to clip time; faster actors take less of the clip."""
        span = float(np.clip(length / self.speed * self.rng.uniform(0.9, 1.1), 0.25, 0.94))
        start = float(self.rng.uniform(0.03, 0.97 - span))
        return lambda u: start + np.asarray(u, dtype=float) * span

    def cycles(self, hertz: float, u0: float, u1: float, win: Window) -> float:
        """Number of periods of a ``hertz`` rhythm (scaled by speed) between win(u0) and win(u1)."""
        return hertz * self.speed * float(win(u1) - win(u0)) * self.seconds

    def point(self, outward: float, up: float, forward: float) -> Array:
        """A chest-frame point given in fractions of the actor's height."""
        return np.array([outward, up, forward]) * self.height

    def hang(self, flex: Array, out: float = 0.0) -> Array:
        """(T, 3) wrist target of a relaxed arm hanging under gravity when the trunk flexes."""
        body = self.subject.body
        reach = 0.965 * (body.upper_arm + body.forearm)
        shoulder = body.shoulder_offset
        down = np.stack([np.zeros_like(flex), -np.cos(flex), np.sin(flex)], axis=1)
        lateral = (self.subject.arm_out + out) * self.height
        target: Array = shoulder + reach * down + np.array([lateral, 0.0, 0.02 * self.height])
        return target

    def rest_arms(self, flex: Array) -> tuple[dict[str, Array], dict[str, Array]]:
        """Wrist targets and elbow poles of a resting posture drawn for this sample."""
        style = self.rng.choice(len(REST_ARMS), p=[p for _, p, _, _ in REST_ARMS])
        name, _, spot, pole = REST_ARMS[style]
        wrist, poles = {}, {}
        for side in SIDES:
            if name == "hang":
                wrist[side] = self.hang(flex, self.rng.uniform(-0.006, 0.006))
            else:
                jiggle = self.rng.uniform(-0.01, 0.01, size=3)
                wrist[side] = np.tile(self.point(*(np.asarray(spot) + jiggle)), (self.frames, 1))
            poles[side] = np.tile(pole, (self.frames, 1))
        return wrist, poles

    def rest(self) -> Pose:
        """The neutral standing pose with idle sway, weight shifts and glances (per sample)."""
        t, s, rng = self.t, self.subject, self.rng
        frames = self.frames
        sway = rng.uniform(0.3, 0.8) * self.seconds * np.pi * 2 / 4  # ~ 0.1-0.2 Hz
        ph = rng.uniform(0, 2 * np.pi, size=4)
        wave = [np.sin(sway * t + p) for p in ph]
        shift = rng.uniform(0.005, 0.03)  # weight shift between the feet, metres
        lean = s.lean + rng.uniform(-0.03, 0.03)
        spine = np.stack(
            [lean + 0.015 * wave[0], 0.015 * wave[1] + 0.6 * shift * wave[1], 0.03 * wave[2]],
            axis=1,
        )
        glance = rng.uniform(0.03, 0.25) * wave[3]
        head = np.stack([np.full(frames, s.head + rng.uniform(-0.05, 0.05)), glance], axis=1)
        wrist, pole = self.rest_arms(spine[:, 0])
        hand, leg = {}, {}
        for side in SIDES:
            hand[side] = np.tile([rng.uniform(0.0, 0.2), rng.uniform(0.1, 0.4)], (frames, 1))
            stance = s.stance + rng.uniform(-0.02, 0.02)
            leg[side] = np.tile([0.0, stance, s.knee, 0.0], (frames, 1))
        root = np.zeros((frames, 3))
        root[:, 0] = shift * wave[1]
        return Pose(
            spine=spine, head=head, wrist=wrist, pole=pole, hand=hand, leg=leg,
            root=root, yaw=0.03 * wave[0], anchor=np.full(frames, 0.5),
        )  # fmt: skip


# ---------------------------------------------------------------------------- motion helpers


def blend(base: Array, target: Array, weight: Array) -> Array:
    """Per-frame interpolation from ``base`` (T, D) towards ``target`` (D,) or (T, D)."""
    out: Array = base + weight[:, None] * (target - base)
    return out


def wrist_path(
    pose: Pose, side: str, t: Array, times: Any, targets: Sequence[Array | None]
) -> None:
    """Drive a wrist through keyframed chest-frame targets; ``None`` stands for the rest pose.

    Outside the keyframes the wrist keeps its rest trajectory (with its idle sway).
    """
    rest = pose.wrist[side]
    vals = np.array([rest.mean(axis=0) if v is None else v for v in targets])
    off_rest = np.array([0.0 if v is None else 1.0 for v in targets])
    path = np.asarray(keys(t, times, vals))
    weight = np.asarray(keys(t, times, off_rest[:, None]))[:, 0]
    pose.wrist[side] = blend(rest, path, weight)


def kick_leg(pose: Pose, t: Array, win: Window, amp: float, high: float = 1.0) -> None:
    """Chamber, snap and recoil the dominant leg over win(0)..win(1), standing on the other."""
    times = win([0.0, 0.3, 0.45, 0.62, 1.0])
    hip = keys(t, times, np.array([0.0, 0.9, 1.25, 0.85, 0.0]) * amp * high)
    knee = keys(t, times, np.array([0.0, 1.5, 0.2, 1.3, 0.0]))
    pose.leg["dom"][:, 0] += hip
    pose.leg["dom"][:, 2] += knee
    pose.leg["dom"][:, 3] -= 0.4 * hip  # point the foot a little
    inside = (t >= times[0] - 0.02) & (t <= times[-1] + 0.02)
    pose.anchor = np.where(inside, 0.0, pose.anchor)
    pose.spine[:, 0] -= 0.18 * hip / 1.25  # lean back for balance
