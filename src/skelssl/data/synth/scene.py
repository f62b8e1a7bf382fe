"""Stage, cameras, performances and Kinect-like tracking artefacts.

World frame: y up, floor at y = 0, stage centre at the origin. The three cameras of a setup
stand on a circle around the stage at azimuths 0 (C001), +45 (C002) and -45 (C003) degrees, as
in NTU RGB+D; in replication 1 the actor faces camera 2, in replication 2 camera 3, so the middle
camera sees 45-degree views and the side cameras a front and a profile view. Camera space is
Kinect's: right-handed, y up, z away from the camera (a person facing the camera has their right
side at larger x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skelssl.config import SynthesizeParams, SynthNoise
from skelssl.data.synth.actions import ACTIONS
from skelssl.data.synth.kinematics import PARENT, Array, rot_y
from skelssl.data.synth.pose import to_joints
from skelssl.data.synth.style import Ctx, make_subject

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

CAMERA_STREAM, PERFORMANCE_STREAM, NOISE_STREAM = 102, 103, 104
AZIMUTH = {1: 0.0, 2: 45.0, 3: -45.0}  # degrees, per camera
FACES_CAMERA = {1: 2, 2: 3}  # replication -> camera the actor faces
NTU_PERFORMERS = 106  # interaction partners are drawn from NTU's performer ids
ID_SWITCH_PROB = 0.05  # per one-person sample: the tracker gives the actor a new bodyID
BODY_ID_BASE = 72057594037927936  # 2**56, like Kinect v2 tracking ids
JITTER_CORRELATION = 0.5  # lag-1 autocorrelation of the per-joint noise


@dataclass(frozen=True)
class Camera:
    position: Array  # (3,) world
    axes: Array  # (3, 3) rows: camera x, y, z axes in world coordinates

    def to_camera(self, world: Array) -> Array:
        return (world - self.position) @ self.axes.T


def make_camera(seed: int, setup: int, camera: int) -> Camera:
    """Camera ``camera`` of setup ``setup``: 2.5-3.5 m from the stage, about 1 m high."""
    rng = np.random.default_rng([seed, CAMERA_STREAM, setup, camera])
    az = np.radians(AZIMUTH[camera] + rng.uniform(-4, 4))
    dist, height = rng.uniform(2.5, 3.5), rng.uniform(0.8, 1.2)
    position = np.array([dist * np.sin(az), height, dist * np.cos(az)])
    look = np.array([rng.uniform(-0.15, 0.15), rng.uniform(0.7, 1.0), rng.uniform(-0.15, 0.15)])
    z = (look - position) / np.linalg.norm(look - position)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    roll = rng.uniform(-0.03, 0.03)
    x, y = np.cos(roll) * x + np.sin(roll) * y, np.cos(roll) * y - np.sin(roll) * x
    return Camera(position, np.stack([x, y, z]))


@dataclass(frozen=True)
class Performance:
    """One performance in world coordinates, shared by the three cameras."""

    frames: int
    actors: list[Array]  # (T, 25, 3) per actor; actor 0 is the performer


def _place(joints: Array, heading: float, position: Array) -> Array:
    return joints @ rot_y(np.array(heading)).T + position


def perform(
    params: SynthesizeParams, setup: int, performer: int, replication: int, action: int
) -> Performance:
    """Generate action ``action`` (1-based) by ``performer``; independent of the other samples."""
    rng = np.random.default_rng(
        [params.seed, PERFORMANCE_STREAM, setup, performer, replication, action]
    )
    frames = int(rng.integers(params.frames.min, params.frames.max + 1))
    spec = ACTIONS[action - 1]
    rng_a, rng_b = rng.spawn(2)
    ctx_a = Ctx.create(frames, make_subject(params.seed, performer), rng_a, spec.lateral)
    face = np.radians(AZIMUTH[FACES_CAMERA[(replication - 1) % 2 + 1]] + rng.uniform(-25, 25))
    centre = np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
    if not spec.two_person:
        pose = spec.make(ctx_a)
        joints = to_joints(pose, ctx_a.subject.body, ctx_a.dom)
        return Performance(frames, [_place(joints, face, centre)])
    partner = int(rng.integers(1, NTU_PERFORMERS))
    partner += partner >= performer
    ctx_b = Ctx.create(frames, make_subject(params.seed, partner), rng_b, spec.lateral)
    ctx_b.t = ctx_a.t  # one clock for both actors, so contacts happen together
    pose_a, pose_b, gap = spec.make(ctx_a, ctx_b)
    heading = face + np.pi / 2 * rng.choice([-1.0, 1.0]) + rng.uniform(-0.2, 0.2)
    axis = np.array([np.sin(heading), 0.0, np.cos(heading)])
    actor_a = _place(
        to_joints(pose_a, ctx_a.subject.body, ctx_a.dom), heading, centre - axis * gap / 2
    )
    actor_b = _place(
        to_joints(pose_b, ctx_b.subject.body, ctx_b.dom), heading + np.pi, centre + axis * gap / 2
    )
    return Performance(frames, [actor_a, actor_b])


# ---------------------------------------------------------------------------- tracking


@dataclass
class Track:
    """One bodyID in one file: present frames, camera-space joints, joint tracking states."""

    body_id: int
    present: Bools  # (T,)
    xyz: Array  # (T, 25, 3)
    tracking: Ints  # (T, 25)


def _jitter(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> Array:
    """Gaussian noise with a small lag-1 correlation along the first (time) axis."""
    white = rng.normal(0.0, std, size=shape)
    out = np.empty_like(white)
    out[0] = white[0]
    keep, fresh = JITTER_CORRELATION, np.sqrt(1 - JITTER_CORRELATION**2)
    for i in range(1, shape[0]):
        out[i] = keep * out[i - 1] + fresh * white[i]
    return out


def _observe(joints: Array, noise: SynthNoise, rng: np.random.Generator) -> tuple[Array, Ints]:
    """Jittered joints and tracking states; inferred joints are pulled towards their parent."""
    xyz = joints + _jitter(rng, joints.shape, noise.jitter) if noise.jitter > 0 else joints.copy()
    inferred = rng.random(joints.shape[:2]) < noise.inferred_prob
    tracking = np.where(inferred, 1, 2)
    if inferred.any():
        parent = xyz[:, np.maximum(PARENT, 0)]
        pull = np.where((PARENT >= 0)[None, :, None], 0.35 * (parent - xyz), 0.0)
        moved = xyz + pull + rng.normal(0.0, 0.02, size=xyz.shape)
        xyz = np.where(inferred[..., None], moved, xyz)
    return xyz, tracking


def _short_ghost(actor: Array, rng: np.random.Generator) -> tuple[Bools, Array]:
    """A body seen in <= 10 frames: a displaced, noisy copy of the actor (deleted by length)."""
    frames = actor.shape[0]
    length = int(rng.integers(2, min(10, frames) + 1))
    start = int(rng.integers(0, frames - length + 1))
    present = np.zeros(frames, dtype=bool)
    present[start : start + length] = True
    shift = np.array(
        [rng.choice([-1, 1]) * rng.uniform(0.5, 1.0), rng.uniform(-0.1, 0.1), rng.uniform(0.1, 0.5)]
    )
    return present, actor + shift + rng.normal(0.0, 0.03, size=actor.shape)


def _flat_object(frames: int, rng: np.random.Generator) -> tuple[Bools, Array]:
    """A furniture-like body, wider than tall in >= 85% of its frames (deleted by spread)."""
    length = int(rng.integers(12, max(12, frames // 2) + 1)) if frames > 12 else frames
    start = int(rng.integers(0, frames - length + 1))
    present = np.zeros(frames, dtype=bool)
    present[start : start + length] = True
    centre = np.array(
        [rng.choice([-1, 1]) * rng.uniform(0.7, 1.3), rng.uniform(-0.7, 0.0), rng.uniform(2.0, 3.2)]
    )
    size = np.array([rng.uniform(0.6, 1.2), rng.uniform(0.05, 0.25), 0.3])
    flat = rng.uniform(-0.5, 0.5, size=(25, 3)) * size
    tall = rng.uniform(-0.5, 0.5, size=(25, 3)) * [0.2, 1.1, 0.2]
    # A few present frames (at most 15%) look person-like: tall and narrow.
    upright = np.zeros(frames, dtype=bool)
    count = int(length * rng.uniform(0.0, 0.15))
    upright[rng.choice(np.flatnonzero(present), count, replace=False)] = True
    shape = np.where(upright[:, None, None], tall, flat)
    return present, centre + shape + rng.normal(0.0, 0.01, size=(frames, 25, 3))


def render(
    perf: Performance, camera: Camera, noise: SynthNoise, rng: np.random.Generator
) -> list[Track]:
    """What one Kinect reports for a performance: tracks with ids, noise and artefacts."""
    frames = perf.frames
    next_id = BODY_ID_BASE + int(rng.integers(1000, 10_000_000))
    tracks: list[Track] = []

    def add(present: Bools, xyz: Array, tracking: Ints) -> None:
        nonlocal next_id
        tracks.append(Track(next_id, present, xyz, tracking))
        next_id += int(rng.integers(1, 40))

    everywhere = np.ones(frames, dtype=bool)
    cam_actors = [camera.to_camera(a) for a in perf.actors]
    for xyz in cam_actors:
        add(everywhere, *_observe(xyz, noise, rng))
    if len(cam_actors) == 1 and frames >= 28 and rng.random() < ID_SWITCH_PROB:
        cut = int(rng.integers(14, frames - 13))
        first = tracks[0]
        first.present = np.arange(frames) < cut
        add(~first.present, first.xyz, first.tracking)
    if rng.random() < noise.spurious_body_prob:
        if rng.random() < 0.5:
            present, xyz = _short_ghost(cam_actors[0], rng)
        else:
            present, xyz = _flat_object(frames, rng)
        tracking = np.where(rng.random((frames, 25)) < 0.5, 1, 2)
        add(present, xyz, tracking)
    empty = rng.random(frames) < noise.zero_body_frame_prob
    for track in tracks:
        track.present = track.present & ~empty
    order = rng.permutation(len(tracks))
    return [tracks[i] for i in order]
