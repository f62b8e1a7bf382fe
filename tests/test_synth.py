"""The embedded dataset generator: names, format, determinism, geometry and artefacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.config import FrameRange, SynthesizeParams, SynthNoise
from skelssl.data.ntu_format import BodyFrame, format_skeleton, sample_name
from skelssl.data.synth import ACTIONS, synthesize
from skelssl.data.synth.scene import make_camera, perform, render
from skelssl.data.synth.style import make_subject
from skelssl.data.synth.writer import format_tracks
from skelssl.errors import ParamsError
from skelssl.skeleton import NTU25

QUIET = SynthNoise(jitter=0.0, inferred_prob=0.0, zero_body_frame_prob=0.0, spurious_body_prob=0.0)
TWO_PERSON = next(i for i, a in enumerate(ACTIONS, 1) if a.two_person)


def make_params(**changes) -> SynthesizeParams:
    base = dict(
        seed=7, classes=4, subjects=2, replications=1, setups=1,
        frames=FrameRange(min=14, max=22), noise=QUIET,
    )  # fmt: skip
    base.update(changes)
    return SynthesizeParams(**base)


def read(path: Path) -> list[list[tuple[int, np.ndarray]]]:
    """Tiny strict NTU reader: per frame a list of (bodyID, (25, 12) joint fields)."""
    lines = path.read_text().split("\n")
    assert lines[-1] == "", "file must end with a newline"
    pos, frames = 1, []
    for _ in range(int(lines[0])):
        bodies = []
        count = int(lines[pos])
        pos += 1
        for _ in range(count):
            info = lines[pos].split()
            assert len(info) == 10
            assert lines[pos + 1] == "25"
            joints = np.array([[float(v) for v in ln.split()] for ln in lines[pos + 2 : pos + 27]])
            assert joints.shape == (25, 12)
            bodies.append((int(info[0]), joints))
            pos += 27
        frames.append(bodies)
    assert pos == len(lines) - 1, "trailing content after the last frame"
    return frames


def tracks_of(frames) -> dict[int, dict[int, np.ndarray]]:
    """bodyID -> {frame index: (25, 3) xyz}."""
    out: dict[int, dict[int, np.ndarray]] = {}
    for f, bodies in enumerate(frames):
        for body_id, joints in bodies:
            out.setdefault(body_id, {})[f] = joints[:, :3]
    return out


@pytest.fixture(scope="module")
def quiet_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quiet")
    synthesize(make_params(classes=max(4, TWO_PERSON)), out)
    return out


def test_library_has_enough_classes_and_interactions():
    assert len(ACTIONS) >= 24
    assert len({a.name for a in ACTIONS}) == len(ACTIONS)
    assert sum(a.two_person for a in ACTIONS[:20]) >= 4
    assert TWO_PERSON <= 4  # tiny test configurations include an interaction


def test_names_count_and_sorted_return(tmp_path):
    params = make_params(subjects=3, replications=2, setups=2)
    paths = synthesize(params, tmp_path)
    expected = {
        f"{sample_name(s, c, p, r, a)}.skeleton"
        for s in (1, 2) for c in (1, 2, 3) for p in (1, 2, 3) for r in (1, 2) for a in (1, 2, 3, 4)
    }  # fmt: skip
    assert len(paths) == 2 * 3 * 3 * 2 * 4
    assert paths == sorted(paths)
    assert {p.name for p in paths} == expected
    assert {p.name for p in tmp_path.iterdir()} == expected


def test_files_parse_with_plausible_content(quiet_dir):
    for path in sorted(quiet_dir.iterdir()):
        frames = read(path)
        assert 14 <= len(frames) <= 22
        for bodies in frames:
            ids = [b for b, _ in bodies]
            assert len(set(ids)) == len(ids)
            assert all(b > 2**56 for b in ids)
            for _, joints in bodies:
                assert np.all(joints[:, 2] > 0.5)  # in front of the camera
                assert set(joints[:, 11]) <= {1.0, 2.0}


def test_same_params_give_identical_bytes(tmp_path):
    params = make_params(
        noise=SynthNoise(
            jitter=0.006, inferred_prob=0.05, zero_body_frame_prob=0.05, spurious_body_prob=0.5
        )
    )
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    pa, pb = synthesize(params, a), synthesize(params, b)
    assert [p.name for p in pa] == [p.name for p in pb]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(pa, pb, strict=True))
    c = tmp_path / "c"
    c.mkdir()
    other = synthesize(params.model_copy(update={"seed": 8}), c)
    assert other[0].read_bytes() != pa[0].read_bytes()


def test_sample_does_not_depend_on_class_or_subject_count(tmp_path):
    small, big = tmp_path / "s", tmp_path / "b"
    small.mkdir(), big.mkdir()
    synthesize(make_params(classes=2, subjects=2), small)
    synthesize(make_params(classes=4, subjects=3), big)
    for path in small.iterdir():
        assert path.read_bytes() == (big / path.name).read_bytes()


def test_bone_lengths_constant_over_time(quiet_dir):
    bones = np.array(NTU25.bones)
    for path in sorted(quiet_dir.iterdir()):
        for track in tracks_of(read(path)).values():
            xyz = np.stack(list(track.values()))
            lengths = np.linalg.norm(xyz[:, bones[:, 0]] - xyz[:, bones[:, 1]], axis=-1)
            assert np.ptp(lengths, axis=0).max() < 1e-4, path.name
            assert 0.3 < lengths[0, 0] + lengths[0, 1] < 0.7  # spine base to spine shoulder


def test_body_counts_per_action(quiet_dir):
    for path in sorted(quiet_dir.iterdir()):
        action = int(path.name[17:20])
        want = 2 if ACTIONS[action - 1].two_person else 1
        frames = read(path)
        assert all(len(bodies) == want for bodies in frames), path.name
        if want == 2:
            assert len(tracks_of(frames)) == 2  # the same two bodyIDs throughout


def test_three_cameras_see_one_rigid_performance(quiet_dir):
    for p in (1, 2):
        for a in range(1, 5):
            views = [read(quiet_dir / f"{sample_name(1, c, p, 1, a)}.skeleton") for c in (1, 2, 3)]
            assert len({len(v) for v in views}) == 1
            clouds = []
            for view in views:
                xyz = np.stack(
                    [
                        np.concatenate([j[:, :3] for _, j in sorted(bodies, key=lambda b: b[0])])
                        for bodies in view
                    ]
                )
                clouds.append(xyz.reshape(-1, 3))
            dists = [np.linalg.norm(c[:, None] - c[None], axis=-1) for c in clouds]
            assert np.abs(dists[0] - dists[1]).max() < 2e-4
            assert np.abs(dists[0] - dists[2]).max() < 2e-4
            assert np.abs(clouds[0] - clouds[1]).max() > 0.1  # but not the same coordinates


def test_subjects_differ_and_left_handers_mirror():
    subjects = [make_subject(0, p) for p in range(1, 41)]
    heights = [s.body.height for s in subjects]
    assert min(heights) >= 1.5 and max(heights) <= 1.9 and np.std(heights) > 0.03
    assert make_subject(0, 3) == subjects[2]
    lefty = next(p for p, s in enumerate(subjects, 1) if s.left_handed)
    righty = next(p for p, s in enumerate(subjects, 1) if not s.left_handed)
    wave = next(i for i, a in enumerate(ACTIONS, 1) if a.name == "wave_one_hand")
    params = make_params(seed=0, frames=FrameRange(min=40, max=40))
    for performer, moving, still in ((righty, 10, 6), (lefty, 6, 10)):  # wrist right / left
        joints = perform(params, 1, performer, 1, wave).actors[0]
        assert joints[:, moving, 1].max() - joints[0, moving, 1] > 0.4
        assert joints[:, still, 1].max() - joints[0, still, 1] < 0.1


def test_feet_stay_on_the_floor():
    params = make_params(frames=FrameRange(min=40, max=40))
    for action, spec in enumerate(ACTIONS, 1):
        for actor in perform(params, 1, 1, 1, action).actors:
            feet = actor[:, [14, 15, 18, 19], 1].min(axis=1)
            if spec.name != "jump_up":
                assert np.all(np.abs(feet) < 0.05), spec.name
            assert feet.min() > -0.01


def test_spurious_bodies_are_the_kind_the_denoiser_removes(tmp_path):
    noise = SynthNoise(
        jitter=0.006, inferred_prob=0.02, zero_body_frame_prob=0.0, spurious_body_prob=1.0
    )
    paths = synthesize(
        make_params(subjects=3, noise=noise, frames=FrameRange(min=30, max=40)), tmp_path
    )
    kinds = set()
    for path in paths:
        action = int(path.name[17:20])
        tracks = tracks_of(read(path))
        kept = []
        for track in tracks.values():
            xyz = np.stack(list(track.values()))
            spread = xyz.max(axis=1) - xyz.min(axis=1)
            noisy = np.mean(spread[:, 0] > 0.8 * spread[:, 1])
            if len(track) <= 11:
                kinds.add("short")
            elif noisy >= 0.69754:
                kinds.add("flat")
            else:
                kept.append(track)
                assert noisy < 0.5
        want = 2 if ACTIONS[action - 1].two_person else 1
        assert len(tracks) > want, path.name
        frames_covered = sorted(f for t in kept for f in t)
        assert len(kept) >= want and len(frames_covered) == want * len(read(path))
    assert kinds == {"short", "flat"}


def test_noise_rates_follow_params(tmp_path):
    noise = SynthNoise(
        jitter=0.01, inferred_prob=0.3, zero_body_frame_prob=0.25, spurious_body_prob=0.0
    )
    frames_total = empty = inferred = joints_total = 0
    for path in synthesize(make_params(noise=noise), tmp_path):
        for bodies in read(path):
            frames_total += 1
            empty += not bodies
            for _, joints in bodies:
                inferred += int(np.sum(joints[:, 11] == 1))
                joints_total += 25
    assert 0.15 < empty / frames_total < 0.35
    assert 0.25 < inferred / joints_total < 0.35


def test_fast_writer_matches_ntu_format_module():
    params = make_params(
        noise=SynthNoise(
            jitter=0.006, inferred_prob=0.1, zero_body_frame_prob=0.2, spurious_body_prob=1.0
        )
    )
    perf = perform(params, 1, 1, 1, TWO_PERSON)
    tracks = render(perf, make_camera(7, 1, 2), params.noise, np.random.default_rng(0))
    frames = [
        [BodyFrame(t.body_id, t.xyz[f], t.tracking[f]) for t in tracks if t.present[f]]
        for f in range(perf.frames)
    ]
    assert len(tracks) >= 3
    assert format_tracks(tracks, perf.frames) == format_skeleton(frames)


def test_too_many_classes_is_a_params_error(tmp_path):
    with pytest.raises(ParamsError, match="synthesize.classes"):
        synthesize(make_params(classes=len(ACTIONS) + 1), tmp_path)
