"""The embedded dataset: synthetic human actions written as NTU RGB+D `.skeleton` files.

An NTU-25 skeleton with per-subject proportions is driven by joint-angle trajectories (arms by
two-bone IK towards wrist targets) through forward kinematics, placed on a stage, filmed by three
Kinect-like cameras and written with tracking noise, inferred joints, empty frames, spurious
bodies and bodyID switches, so the real ingest/denoise path is exercised.

Seeding: a performance depends only on (seed, setup, performer, replication, action) and its
camera artefacts also on the camera, so samples do not change when classes or subjects are
added or removed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from skelssl.config import SynthesizeParams
from skelssl.console import track
from skelssl.data.ntu_format import sample_name
from skelssl.data.synth.actions import ACTIONS, Action
from skelssl.data.synth.scene import NOISE_STREAM, make_camera, perform, render
from skelssl.data.synth.writer import write_tracks
from skelssl.errors import ParamsError

CAMERAS = (1, 2, 3)

__all__ = ["ACTIONS", "CAMERAS", "Action", "synthesize"]


def synthesize(params: SynthesizeParams, out_dir: Path) -> list[Path]:
    """Write every sample as ``out_dir/<SsssCcccPpppRrrrAaaa>.skeleton``; return the paths, sorted.

    Count: setups x 3 cameras x subjects x replications x classes.
    """
    if params.classes > len(ACTIONS):
        raise ParamsError(
            f"synthesize.classes: {params.classes} is more than the {len(ACTIONS)} actions"
            " of the library"
        )
    out_dir = Path(out_dir)
    paths: list[Path] = []
    cameras = {setup: {c: make_camera(params.seed, setup, c) for c in CAMERAS}
               for setup in range(1, params.setups + 1)}
    performances = list(itertools.product(range(1, params.setups + 1), range(1, params.subjects + 1),
                                          range(1, params.replications + 1), range(1, params.classes + 1)))
    for setup, performer, replication, action in track(performances, "synthesize"):
        perf = perform(params, setup, performer, replication, action)
        for c, camera in cameras[setup].items():  # every camera films the same performance
            ids = [params.seed, NOISE_STREAM, setup, c, performer, replication, action]
            tracks = render(perf, camera, params.noise, np.random.default_rng(ids))
            path = out_dir / f"{sample_name(setup, c, performer, replication, action)}.skeleton"
            write_tracks(path, tracks, perf.frames)
            paths.append(path)
    return sorted(paths)
