"""Throughput and peak memory of ingest + preprocess against a reference-style baseline (by hand;
results go to docs/benchmarks.md).

Usage: python benchmarks/ingest.py [--files 1000 4000] [--real-copies 64] [--baseline-files 400]
       [--workers 0] [--e2e 2000] [--e2e-only] [--tmp DIR]

End to end (`--e2e N`, first; `--e2e-only` runs nothing else): what a user waits for, every
interpreter start-up and import included, on N real-content NTU files (the 16 real samples linked
under N distinct names; synthesized files where ../shared is absent):
- `skelssl stages`: `python stages/ingest.py RAW OUT/ingested` then `python stages/preprocess.py
  OUT/ingested OUT/processed`, the exact commands of dvc.yaml, as two subprocesses run from a
  work folder holding a params.yaml (the project's, with `ingest.ntu_missing: keep` so linked names
  on the official missing list are read, and `ingest.workers: --workers`);
- `skelssl stages, default GC`: the same two scripts with `skelssl.runner.configure_process_gc`
  turned off (CPython's default garbage collection), to show what that saves;
- `skelssl CLI`: `skelssl ingest ... --params` then `skelssl preprocess ... --params`, the same;
- `skelssl prepare`: `skelssl prepare RAW OUT/ingested OUT/processed --params`, both stages in one
  process (one start-up; the same two output folders);
- `reference scripts`: three subprocesses in the shape of the CTR-GCN/MAMP `data/ntu` scripts
  (methods.md §7.2-7.3), the project's own code below (`ref_read`, `ref_denoise`, `ref_transform`):
  read every file (xyz and colour xy per joint, bodies per bodyID) into one pickle; denoise into a
  second pickle; translate, pad to 300 frames and save the one-hot xsub npz, then the MAMP feeder's
  centre crop/resize and motion for every sample (so the output matches skelssl's `processed`;
  checked, max abs difference printed). No logging files, no per-frame `vstack`: if anything faster
  than the scripts, so the ratio is a lower bound;
each best of `--repeat`, interleaved; the summary line is a Markdown table row for
docs/benchmarks.md (machine, load average, the end-to-end times and their ratios, and the streaming
rate below when the synthetic sets ran). Stage start-up is shown by the same stages on 16 files,
and the fixed cost of one process by `python -c` processes that only import the stack and
dispatch one cached numba kernel (FLOOR_CODE), with the garbage collector set up as a stage's
process sets it (`skelssl.runner.configure_process_gc`): what the stack itself costs per process.

What else runs, each measured in a fresh subprocess (wall time, peak RSS of the process and of its
largest worker):
- `skelssl`: `skelssl.pipeline.ingest.run` then `preprocess.run` on N synthesized NTU-format files
  (the skelssl synthesizer, longer clips than the default so files are NTU-sized), for each N given,
  so peak RSS can be compared across N; workers = `--workers` (0 = all cores) and 1;
- the same on the 16 real NTU samples of ../shared/data/real/ntu_rgbd, linked (never copied) under
  distinct sample names `--real-copies` times each;
- `baseline`: a plain line-by-line Python/NumPy implementation of the same rules, written here the
  way the CTR-GCN/MAMP reference scripts work (readline + split + float per joint line, bodies in
  dicts, NumPy denoising, then translation, crop/resize and motion per sample, everything kept in
  memory until the end), one core, on the first `--baseline-files` files; its output is compared
  with skelssl's (max abs difference);
- a per-file component profile (read, byte scanner, track building, denoise, clip, pickling) in
  one process, to show where the time goes.
MB/s counts `.skeleton` bytes. The files are in the page cache (written just before), so disk
reads are not measured. The NTU-120 estimate scales the measured MB/s to 114,480 files of the
average size measured on the synthetic files and on the real samples.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "ntu_rgbd" / "skeleton"
NTU120_FILES = 114_480


# ------------------------------------------------------------------ reference-style baseline


def baseline_read(path: Path) -> dict[str, list]:
    """Line by line: bodyID -> [valid frame indices, (25, 3) float32 joints per frame]."""
    bodies: dict[str, list] = {}
    with open(path) as fh:
        num_frames = int(fh.readline())
        valid = -1
        for _ in range(num_frames):
            num_bodies = int(fh.readline())
            if num_bodies == 0:
                continue
            valid += 1
            for _ in range(num_bodies):
                body_id = fh.readline().split()[0]
                num_joints = int(fh.readline())
                joints = np.zeros((num_joints, 3), dtype=np.float32)
                for j in range(num_joints):
                    fields = fh.readline().split()
                    joints[j] = [float(fields[0]), float(fields[1]), float(fields[2])]
                entry = bodies.setdefault(body_id, [[], []])
                entry[0].append(valid)
                entry[1].append(joints)
    return bodies


def baseline_denoise(bodies: dict[str, list]) -> np.ndarray:
    """methods.md §7.2 steps 1-2, 4-5: (frames, 150) float32 = [actor 1 | actor 2]."""
    tracks = [(np.asarray(f), np.stack(j)) for f, j in bodies.values()]
    frames = max(int(f.max()) for f, _ in tracks) + 1
    if len(tracks) == 1:
        out = np.zeros((frames, 150), dtype=np.float32)
        f, j = tracks[0]
        out[f[0] : f[0] + len(f), :75] = j.reshape(len(f), 75)
        return out
    motion = [np.sum(np.var(j.reshape(-1, 3), axis=0)) for _, j in tracks]
    alive = [k for k, (f, _) in enumerate(tracks) if len(f) > 11]
    for k in list(alive):
        if len(alive) == 1:
            break
        j = tracks[k][1]
        spread = j.max(axis=1) - j.min(axis=1)
        ok = spread[:, 0].astype(np.float64) <= 0.8 * spread[:, 1].astype(np.float64)
        noisy = len(ok) - int(ok.sum())
        if noisy == 0:
            continue
        if noisy / len(ok) >= 0.69754:
            alive.remove(k)
        else:
            motion[k] = min(motion[k], np.sum(np.var(j[ok].reshape(-1, 3), axis=0)))
    if not alive:
        raise ValueError("no body left")
    alive.sort(key=lambda k: motion[k], reverse=True)
    out = np.zeros((frames, 150), dtype=np.float32)
    slots = [[0, 0], [0, 0]]
    for rank, k in enumerate(alive):
        f, j = tracks[k]
        start, end = int(f[0]), int(f[0]) + len(f) - 1
        if rank == 0:
            slot = 0
        elif min(slots[0][1], end) - max(slots[0][0], start) <= 0:
            slot = 0
        elif min(slots[1][1], end) - max(slots[1][0], start) <= 0:
            slot = 1
        else:
            continue
        out[start : end + 1, 75 * slot : 75 * slot + 75] = j.reshape(len(f), 75)
        if rank == 0:
            slots[0] = [start, end]
        else:
            slots[slot] = [min(slots[slot][0], start), max(slots[slot][1], end)]
    return out[np.abs(out).sum(axis=1) != 0]


def baseline_translate(seq: np.ndarray) -> np.ndarray:
    """Translation (joint 2 of actor 1, first non-zero frame; absent actors stay zero): (F, 2, 25, 3)."""
    x = seq.reshape(len(seq), 2, 25, 3).copy()
    present = np.abs(x).sum(axis=(2, 3)) != 0  # (F, 2)
    first = int(np.argmax(present[:, 0]))
    origin = x[first, 0, 1].copy()
    return np.where(present[:, :, None, None], x - origin, 0).astype(np.float32)


def baseline_transform(seq: np.ndarray, frames: int, crop_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Translation, centre crop + linear resize to `frames`, per-joint motion magnitude:
    (2, T, 25, 3) and (2, T, 25)."""
    return baseline_crop_motion(baseline_translate(seq), frames, crop_ratio)


def baseline_crop_motion(x: np.ndarray, frames: int, crop_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre crop + linear resize of the valid (non-zero) frames of translated (F, 2, 25, 3) to
    `frames`, per-joint motion magnitude: (2, T, 25, 3) and (2, T, 25)."""
    valid = int((np.abs(x.astype(np.float64)).sum(axis=(1, 2, 3)) != 0).sum())
    bias = int((1 - crop_ratio) * valid / 2)
    window = x[bias : valid - bias].astype(np.float64)
    length = len(window)
    src = np.clip((np.arange(frames) + 0.5) * length / frames - 0.5, 0, length - 1)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, length - 1)
    w1 = (src - i0)[:, None, None, None]
    clip = ((1 - w1) * window[i0] + w1 * window[i1]).astype(np.float32)
    present = np.abs(clip).sum(axis=(2, 3)) != 0
    diff = np.zeros_like(clip)
    both = present[:-1] & present[1:]
    diff[:-1] = np.where(both[:, :, None, None], clip[1:] - clip[:-1], 0)
    motion = np.sqrt((diff.astype(np.float64) ** 2).sum(axis=3)).astype(np.float32)
    return clip.transpose(1, 0, 2, 3), motion.transpose(1, 0, 2)


def run_baseline(files: list[Path], frames: int, crop_ratio: float, out: Path) -> None:
    xs, motions = [], []
    for path in files:
        x, motion = baseline_transform(baseline_denoise(baseline_read(path)), frames, crop_ratio)
        xs.append(x)
        motions.append(motion)
    np.save(out / "joints.npy", np.stack(xs))
    np.save(out / "motion.npy", np.stack(motions))


# ------------------------------------------------------------------ reference scripts, end to end
# Three steps in the shape of the CTR-GCN/MAMP `data/ntu` scripts (methods.md §7.2-7.3), each run
# as its own `python benchmarks/ingest.py _ref STEP ...` process (NumPy and the standard library
# only, as the scripts import), handing over pickles as they do.

XSUB_TRAIN = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,  # NTU-60
              45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84,
              85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103}  # + NTU-120 (methods.md §7.1)


def ref_read_file(path: Path) -> dict:
    """Step 1 for one file: per bodyID its xyz (frames x 25, 3), colour xy (frames, 25, 2) and valid
    frame indices, the motion of each body when there are several; frames without a body dropped."""
    bodies: dict[str, dict] = {}
    dropped = 0
    with open(path) as fh:
        num_frames = int(fh.readline())
        valid = -1
        for _ in range(num_frames):
            num_bodies = int(fh.readline())
            if num_bodies == 0:
                dropped += 1
                continue
            valid += 1
            for _ in range(num_bodies):
                body_id = fh.readline().split()[0]
                num_joints = int(fh.readline())
                joints = np.zeros((num_joints, 3), dtype=np.float32)
                colors = np.zeros((num_joints, 2), dtype=np.float32)
                for j in range(num_joints):
                    fields = fh.readline().split()
                    joints[j] = np.array(fields[0:3], dtype=np.float32)
                    colors[j] = np.array(fields[5:7], dtype=np.float32)
                body = bodies.setdefault(body_id, {"joints": [], "colors": [], "interval": []})
                body["joints"].append(joints)
                body["colors"].append(colors)
                body["interval"].append(valid)
    for body in bodies.values():
        body["joints"] = np.concatenate(body["joints"])
        body["colors"] = np.stack(body["colors"])
        if len(bodies) > 1:
            body["motion"] = float(np.sum(np.var(body["joints"], axis=0)))
    return {"name": path.stem, "data": bodies, "num_frames": valid + 1, "dropped_frames": dropped}


def ref_read(listing: Path, out: Path) -> None:
    skes = [ref_read_file(Path(line)) for line in listing.read_text().split()]
    with open(out, "wb") as fh:
        pickle.dump(skes, fh, pickle.HIGHEST_PROTOCOL)


def ref_denoise(src: Path, out: Path) -> None:
    """Step 2: length/spread filters, actor slots, empty frames removed: (frames, 150) per sample."""
    with open(src, "rb") as fh:
        skes = pickle.load(fh)
    denoised = []
    for ske in skes:
        bodies = {k: [b["interval"], b["joints"].reshape(-1, 25, 3)] for k, b in ske["data"].items()}
        denoised.append((ske["name"], baseline_denoise(bodies)))
    with open(out, "wb") as fh:
        pickle.dump(denoised, fh, pickle.HIGHEST_PROTOCOL)


def ref_transform(src: Path, out: Path, frames: int, crop_ratio: float) -> None:
    """Step 3 (translation, zero pad to 300 frames, one-hot labels, xsub npz), then what the MAMP
    feeder does per sample (centre crop/resize, motion), here once for every sample."""
    with open(src, "rb") as fh:
        denoised = pickle.load(fh)
    length = max([300] + [len(seq) for _, seq in denoised])
    x = np.zeros((len(denoised), length, 150), dtype=np.float32)
    actions = np.array([int(name[17:20]) for name, _ in denoised])
    train = np.array([int(name[9:12]) in XSUB_TRAIN for name, _ in denoised])
    for i, (_, seq) in enumerate(denoised):
        x[i, : len(seq)] = baseline_translate(seq).reshape(len(seq), 150)
    y = np.eye(120 if actions.max() > 60 else 60, dtype=np.float32)[actions - 1]
    np.savez(out / "NTU_XSub.npz", x_train=x[train], y_train=y[train], x_test=x[~train], y_test=y[~train])
    clips = [baseline_crop_motion(x[i].reshape(length, 2, 25, 3), frames, crop_ratio) for i in range(len(x))]
    np.save(out / "joints.npy", np.stack([c for c, _ in clips]))
    np.save(out / "motion.npy", np.stack([m for _, m in clips]))


def ref_step(step: str, args: list[str]) -> None:
    if step == "read":
        ref_read(Path(args[0]), Path(args[1]))
    elif step == "denoise":
        ref_denoise(Path(args[0]), Path(args[1]))
    else:
        ref_transform(Path(args[0]), Path(args[1]), int(args[2]), float(args[3]))


# ------------------------------------------------------------------ measured child processes


def _params(workers: int):
    from skelssl.config import load_params

    params = load_params(ROOT / "params.yaml")
    ingest = params.ingest.model_copy(update={"workers": workers, "ntu_missing": "keep"})
    # the reference scripts' preprocessing: translation only
    preprocess = params.preprocess.model_copy(update={"align_view": False, "scale": "none"})
    return params.model_copy(update={"ingest": ingest, "preprocess": preprocess})


def child(task: str, args: list[str]) -> None:
    """Run one measured task in this (fresh) process; print a JSON line."""
    import logging

    from skelssl.console import log

    log.setLevel(logging.WARNING)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, float] = {}
    cpu0 = 0.0
    if task == "skelssl":
        from skelssl.pipeline import ingest, preprocess

        raw, out, workers = Path(args[0]), Path(args[1]), int(args[2])
        params = _params(workers)
        floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after the imports
        cpu0 = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))
        start = time.perf_counter()
        ingest.run(params, raw, out / "ingested")
        result["ingest_s"] = time.perf_counter() - start
        start = time.perf_counter()
        preprocess.run(params, out / "ingested", out / "processed")
        result["preprocess_s"] = time.perf_counter() - start
    elif task == "warm":  # steady state: one process, numba loaded, alternating worker counts
        from skelssl.pipeline import ingest

        raw, out, workers, repeat = Path(args[0]), Path(args[1]), int(args[2]), int(args[3])
        ingest.run(_params(1), raw, out)
        for w in (1, workers):
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                ingest.run(_params(w), raw, out)
                times.append(time.perf_counter() - start)
            result[f"ingest_s_workers{w}"] = min(times)
        print(json.dumps(result))
        return
    elif task == "baseline":
        files = [Path(line) for line in Path(args[0]).read_text().split()]
        out = Path(args[1])
        params = _params(1)
        floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu0 = sum(getattr(resource.getrusage(resource.RUSAGE_SELF), f) for f in ("ru_utime", "ru_stime"))
        start = time.perf_counter()
        run_baseline(files, params.preprocess.frames, params.preprocess.crop_ratio, out)
        result["ingest_s"] = time.perf_counter() - start
        result["preprocess_s"] = 0.0
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_s"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0
    result["rss_floor_mb"] = floor / 1024
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def measure(task: str, *args: str) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "_child", task, *args], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


# ------------------------------------------------------------------ datasets


def synthesize_files(folder: Path, count: int) -> list[Path]:
    from skelssl.config import SynthesizeParams, load_params
    from skelssl.data.synth import synthesize

    base = load_params(ROOT / "params.yaml").synthesize.model_dump()
    subjects = max(2, -(-count // (25 * 3)))  # 25 classes x 3 cameras per subject
    base.update(classes=25, subjects=min(subjects, 106), setups=1 + (subjects - 1) // 106,
                frames={"min": 60, "max": 140})
    if subjects > 106:
        base["subjects"] = 106
    folder.mkdir(parents=True)
    paths = synthesize(SynthesizeParams.model_validate(base), folder)
    for path in paths[count:]:
        path.unlink()
    return paths[:count]


def link_copies(folder: Path, files: list[Path], copies: int) -> list[Path]:
    """`files` linked `copies` times under other setup numbers (a larger dataset, no more disk)."""
    from skelssl.data.ntu import parse_sample_name
    from skelssl.data.ntu_format import sample_name

    folder.mkdir(parents=True)
    out = []
    for k in range(copies):
        for path in files:
            s = parse_sample_name(path.name)
            link = folder / f"{sample_name(1 + (s.setup - 1 + k) % 32, s.camera, s.performer, s.replication, s.action)}.skeleton"
            link.symlink_to(path.resolve())
            out.append(link)
    return sorted(out)


def link_real(folder: Path, copies: int) -> list[Path]:
    """The real samples linked under distinct names (performer/replication varied)."""
    from skelssl.data.ntu import parse_sample_name
    from skelssl.data.ntu_format import sample_name

    folder.mkdir(parents=True)
    out = []
    for k in range(copies):
        for path in sorted(REAL.glob("*.skeleton")):
            s = parse_sample_name(path.name)
            name = sample_name(s.setup, s.camera, 1 + k % 106, 1 + (k // 106) % 2, s.action)
            link = folder / f"{name}.skeleton"
            if not link.exists():
                link.symlink_to(path)
                out.append(link)
    return sorted(out)


def size_of(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


# ------------------------------------------------------------------ profile


def profile(files: list[Path], label: str) -> None:
    """Per-file time of each step of `NTUSource.read` in this process (best of 3 passes)."""
    from skelssl.config import load_params
    from skelssl.data.denoise import denoise
    from skelssl.data.ntu import read_skeleton
    from skelssl.data.ntu_denoise import denoise_fast
    from skelssl.data.ntu_parse import _read_padded, read_skeleton_fast, scan_skeleton
    from skelssl.data.sources.ntu import NTUSource

    cfg = load_params(ROOT / "params.yaml").ingest
    source = NTUSource()
    read_skeleton_fast(files[0])
    steps = {
        "read file into buffer": lambda f: _read_padded(f),
        "byte scanner (scan_skeleton)": lambda f: scan_skeleton(*_read_padded(f)),
        "read_skeleton_fast (read+scan+tracks)": read_skeleton_fast,
        "strict read_skeleton (numpy tokens)": read_skeleton,
        "denoise (NumPy reference, skelssl.data.denoise)": None,
        "denoise_fast (numba)": None,
        "NTUSource.read (all of the above + clip)": lambda f: source.read(f, cfg),
        "pickle round trip of the clips": None,
    }
    parsed = {f: read_skeleton_fast(f) for f in files}
    clips = {f: source.read(f, cfg) for f in files}
    steps["denoise (NumPy reference, skelssl.data.denoise)"] = lambda f: denoise(parsed[f], cfg.denoise)
    steps["denoise_fast (numba)"] = lambda f: denoise_fast(parsed[f], cfg.denoise)
    steps["pickle round trip of the clips"] = lambda f: pickle.loads(pickle.dumps(clips[f], protocol=5))
    total = size_of(files)
    print(f"\nprofile ({label}: {len(files)} files, {total / len(files) / 1e3:.0f} KB average), "
          "one process, best of 3:")
    print("| step | µs/file | MB/s equivalent |\n|---|---|---|")
    for name, fn in steps.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for f in files:
                fn(f)
            best = min(best, time.perf_counter() - start)
        print(f"| {name} | {best / len(files) * 1e6:.0f} | {total / best / 1e6:.0f} |")


# ------------------------------------------------------------------ end to end (CLI wall time)


def e2e_params(work: Path, raw: Path, workers: int) -> Path:
    """The project's params.yaml with `ingest.input` = raw, `ntu_missing: keep`, `workers` set, and
    the reference scripts' preprocessing (translation only: `align_view: false`, `scale: none`)."""
    from skelssl.config import load_params

    lines, block = [], ""
    for line in (ROOT / "params.yaml").read_text().splitlines():
        if line[:1] not in ("", " ", "#"):
            block = line.split(":")[0]
        key = line.strip().split(":")[0]
        if block == "ingest" and line.startswith("  ") and key in ("input", "ntu_missing", "workers"):
            value = {"input": str(raw), "ntu_missing": "keep", "workers": str(workers)}[key]
            line = f"  {key}: {value}"
        if block == "preprocess" and line.startswith("  ") and key in ("align_view", "scale"):
            line = f"  {key}: " + {"align_view": "false", "scale": "none"}[key]
        lines.append(line)
    path = work / "params.yaml"
    path.write_text("\n".join(lines) + "\n")
    ingest = load_params(path).ingest
    assert (ingest.source, ingest.ntu_missing, ingest.workers) == ("ntu", "keep", workers), ingest
    prep = load_params(path).preprocess
    assert (prep.align_view, prep.scale) == (False, "none"), prep
    return path


def timed(cmd: list[str], cwd: Path, log: Path) -> tuple[float, float, float]:
    """Wall s (from spawn to exit, interpreter start-up included), CPU s, peak RSS MB of `cmd`."""
    with open(log, "ab") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


# A stage script run with CPython's default garbage collection (`configure_process_gc` disabled),
# to measure what that function saves: `python -c DEFAULT_GC_STAGE stages/X.py PATHS...`.
DEFAULT_GC_STAGE = ("import runpy, sys; from skelssl import runner; runner.configure_process_gc = lambda: None; "
                    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def e2e_commands(raw: Path, out: Path, work: Path, params: Path, frames: int,
                 crop_ratio: float) -> dict[str, list[tuple[str, list[str]]]]:
    py = sys.executable
    cli = shutil.which("skelssl", path=str(Path(py).parent))
    cli_cmd = [cli] if cli else [py, "-m", "skelssl"]
    ingested, processed = out / "ingested", out / "processed"
    listing = work / "files.txt"
    listing.write_text("\n".join(str(f) for f in sorted(raw.glob("*.skeleton"))))
    return {
        "skelssl stages": [
            ("ingest", [py, str(ROOT / "stages" / "ingest.py"), str(raw), str(ingested)]),
            ("preprocess", [py, str(ROOT / "stages" / "preprocess.py"), str(ingested), str(processed)])],
        "skelssl stages, default GC": [
            ("ingest", [py, "-c", DEFAULT_GC_STAGE, str(ROOT / "stages" / "ingest.py"), str(raw), str(ingested)]),
            ("preprocess", [py, "-c", DEFAULT_GC_STAGE, str(ROOT / "stages" / "preprocess.py"), str(ingested),
                            str(processed)])],
        "skelssl CLI": [
            ("ingest", [*cli_cmd, "ingest", str(raw), str(ingested), "--params", str(params)]),
            ("preprocess", [*cli_cmd, "preprocess", str(ingested), str(processed), "--params", str(params)])],
        "skelssl prepare": [
            ("prepare", [*cli_cmd, "prepare", str(raw), str(ingested), str(processed), "--params", str(params)])],
        "reference scripts": [
            ("read", [py, str(Path(__file__).resolve()), "_ref", "read", str(listing), str(out / "raw_skes.pkl")]),
            ("denoise", [py, str(Path(__file__).resolve()), "_ref", "denoise", str(out / "raw_skes.pkl"),
                         str(out / "denoised.pkl")]),
            ("transform", [py, str(Path(__file__).resolve()), "_ref", "transform", str(out / "denoised.pkl"),
                           str(out), str(frames), str(crop_ratio)])],
    }


def e2e_run(steps: list[tuple[str, list[str]]], work: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    r: dict = {"steps": {}, "cpu_s": 0.0, "rss_mb": 0.0}
    for name, cmd in steps:
        wall, cpu, rss = timed(cmd, work, work / "log.txt")
        r["steps"][name] = wall
        r["cpu_s"] += cpu
        r["rss_mb"] = max(r["rss_mb"], rss)
    r["wall_s"] = sum(r["steps"].values())
    return r


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba

    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}, numba {numba.__version__}")


# The fixed cost of any process of a data stage, with no data (issue 14 item 9): what the stack
# itself costs per process (the two-stage path pays it twice). Each is `python -c GC_SETUP + CODE`
# from the work folder (its params.yaml); GC_SETUP does what `skelssl.runner.configure_process_gc`
# does in every stage process, without importing the runner (which the lighter floors do not use).
GC_SETUP = "import atexit, gc\ngc.set_threshold({}, *gc.get_threshold()[1:])\natexit.register(gc.freeze)\n"
FLOOR_CODE = {
    "stack (numpy, polars, pydantic config, numba + one cached kernel)": (
        "import numpy as np, polars\n"
        "from skelssl.config import load_params\n"
        "from skelssl.kernels.batch import preprocess_batch\n"
        "from skelssl.runner import load_numba_without_blas_probe\n"
        "load_numba_without_blas_probe()  # after numba's import, as run_stage calls it (else a no-op)\n"
        "load_params('params.yaml')\n"
        "preprocess_batch(np.zeros((2, 1, 25, 3), np.float32), np.array([0, 2], np.int64), 32)\n"),
    "without numba (numpy, polars, pydantic config)": (
        "import numpy as np, polars\n"
        "from skelssl.config import load_params\n"
        "load_params('params.yaml')\n"),
    "interpreter (python -c pass)": "pass\n",
}


def stack_floor(work: Path, repeat: int) -> dict[str, float]:
    """Best-of-`repeat` wall s of each FLOOR_CODE process, interleaved."""
    from skelssl.runner import GC_YOUNG_THRESHOLD  # here: the reference-script steps import no skelssl

    setup = GC_SETUP.format(GC_YOUNG_THRESHOLD)
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name, code in FLOOR_CODE.items():
            wall, _, _ = timed([sys.executable, "-c", setup + code], work, work / "log.txt")
            best[name] = min(best.get(name, wall), wall)
    return best


def end_to_end(files: list[Path], label: str, tmp: Path, workers: int, repeat: int) -> dict:
    """Both end-to-end runs on `files` (best of `repeat`, interleaved); prints the table."""
    from skelssl.config import load_params

    work = tmp / "e2e"
    raw = work / "raw"
    raw.mkdir(parents=True)
    for f in files:
        (raw / f.name).symlink_to(f.resolve())
    params = e2e_params(work, raw, workers)
    pre = load_params(params).preprocess
    out = work / "out"
    names = ("skelssl stages", "skelssl stages, default GC", "skelssl CLI", "skelssl prepare", "reference scripts")
    commands = {name: e2e_commands(raw, out / name.replace(" ", "-"), work, params, pre.frames,
                                   pre.crop_ratio)[name] for name in names}
    load0 = os.getloadavg()
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for name, steps in commands.items():
            r = e2e_run(steps, work, out / name.replace(" ", "-"))
            if name not in best or r["wall_s"] < best[name]["wall_s"]:
                best[name] = r
    ours = np.load(out / "skelssl-stages" / "processed" / "joints.npy")
    theirs = np.load(out / "reference-scripts" / "joints.npy")
    agreement = (f"max |skelssl - reference| = {np.abs(ours - theirs).max():.2e}" if ours.shape == theirs.shape
                 else f"shapes differ: skelssl {ours.shape}, reference {theirs.shape}")
    # start-up: the same two stages on 16 files (parsing them takes a few ms)
    small = work / "raw16"
    small.mkdir()
    for f in sorted(raw.glob("*.skeleton"))[:16]:
        (small / f.name).symlink_to(f.resolve())
    startup = {}
    for _ in range(repeat):
        steps = e2e_commands(small, work / "out16", work, params, pre.frames, pre.crop_ratio)["skelssl stages"]
        r = e2e_run(steps, work, work / "out16")
        for step, wall in r["steps"].items():
            startup[step] = min(startup.get(step, wall), wall)
    floor = stack_floor(work, repeat)
    shutil.rmtree(out, ignore_errors=True)
    size = size_of(files)
    ref = best["reference scripts"]["wall_s"]
    print(f"\nend to end, {label}: {len(files)} files, {size / 1e6:.0f} MB, best of {repeat}, each "
          f"step a fresh process (interpreter start-up and imports included), workers="
          f"{workers or 'all'}:")
    print("| run | steps (s) | total s | MB/s | CPU s | peak RSS MB (largest step) | vs reference scripts |\n"
          + "|---" * 7 + "|")
    for name, r in best.items():
        steps = " + ".join(f"{step} {wall:.2f}" for step, wall in r["steps"].items())
        print(f"| {name} | {steps} | **{r['wall_s']:.2f}** | {size / r['wall_s'] / 1e6:.0f} | "
              f"{r['cpu_s']:.2f} | {r['rss_mb']:.0f} | {ref / r['wall_s']:.1f}x |")
    print("skelssl stages on 16 files (start-up and imports, ~no data): "
          + " + ".join(f"{step} {wall:.2f}" for step, wall in startup.items())
          + f" = {sum(startup.values()):.2f} s; output agreement (processed joints): {agreement}")
    stages = best["skelssl stages"]["wall_s"]
    print("fixed cost of one process, no data (best of {}): ".format(repeat)
          + "; ".join(f"{name} {wall:.2f} s" for name, wall in floor.items()))
    print(f"10x the reference scripts needs <= {ref / 10:.2f} s end to end; the two stages took {stages:.2f} s, "
          f"of which {sum(startup.values()):.2f} s is what they take on 16 files")
    return {"files": len(files), "mb": size / 1e6, "best": best, "startup": sum(startup.values()),
            "load": (load0, os.getloadavg()), "label": label, "repeat": repeat}


E2E_HEADER = ("| date | machine | data | files | MB | skelssl stages s (ingest + preprocess) | skelssl CLI s | "
              "skelssl prepare s (one process) | reference scripts s (3 steps) | end-to-end speed-up "
              "(stages / CLI / prepare) | stage start-up s (16 files) | streaming MB/s | load average "
              "(start → end) |\n" + "|---" * 13 + "|")


def e2e_row(e: dict, streaming: str) -> str:
    b = e["best"]
    stages, cli, one, ref = (b[k]["wall_s"] for k in ("skelssl stages", "skelssl CLI", "skelssl prepare",
                                                      "reference scripts"))
    ingest, preprocess = b["skelssl stages"]["steps"].values()
    load = " → ".join(f"{x[0]:.2f}" for x in e["load"])
    return (f"| {time.strftime('%Y-%m-%d %H:%M')} | {machine()} | {e['label']} | {e['files']:,} | {e['mb']:.0f} | "
            f"{stages:.2f} ({ingest:.2f} + {preprocess:.2f}) | {cli:.2f} | {one:.2f} | {ref:.2f} | "
            f"**{ref / stages:.1f}×** / {ref / cli:.1f}× / {ref / one:.1f}× | {e['startup']:.2f} | {streaming} | "
            f"{load} |")


# ------------------------------------------------------------------ main


def row(label: str, files: int, size: int, r: dict[str, float]) -> str:
    seconds = r["ingest_s"] + r["preprocess_s"]
    return (f"| {label} | {files} | {size / 1e6:.0f} | {r['ingest_s']:.2f} | {r['preprocess_s']:.2f} | "
            f"{files / seconds:.0f} | **{size / seconds / 1e6:.0f}** | {r['cpu_s']:.2f} | "
            f"{size / r['cpu_s'] / 1e6:.0f} | {r['rss_mb']:.0f} ({r['rss_floor_mb']:.0f}) | "
            f"{r['rss_worker_mb']:.0f} |")


HEADER = ("| run | files | MB | ingest s | preprocess s | files/s | MB/s | CPU s | MB per CPU s | "
          "peak RSS MB (after imports) | largest worker process RSS MB |\n" + "|---" * 11 + "|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--real-copies", type=int, default=64)
    parser.add_argument("--baseline-files", type=int, default=400)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best kept)")
    parser.add_argument("--scale", type=int, default=4,
                        help="also run the largest synthetic set linked this many times (RSS vs N)")
    parser.add_argument("--e2e", type=int, default=2000, metavar="N",
                        help="end-to-end CLI wall time on N real-content files (0 = skip)")
    parser.add_argument("--e2e-only", action="store_true", help="run only the end-to-end comparison")
    parser.add_argument("--tmp", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skelssl-bench-", dir=args.tmp))
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
              f"{platform.python_version()}, load average at start "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        e2e = None
        if args.e2e:
            if REAL.is_dir():
                files = link_real(tmp / "e2e-real", -(-args.e2e // 16))[: args.e2e]
                label = "real NTU content (16 samples linked)"
            else:
                files = synthesize_files(tmp / "e2e-synth", args.e2e)
                label = "synthetic NTU"
            e2e = end_to_end(files, label, tmp, args.workers, args.repeat)
        if args.e2e_only:
            if e2e:
                print("\nMarkdown row for docs/benchmarks.md:\n" + E2E_HEADER + "\n" + e2e_row(e2e, "–"))
            return
        datasets = []
        for count in sorted(args.files):
            start = time.perf_counter()
            files = synthesize_files(tmp / f"synth{count}", count)
            print(f"synthesized {len(files)} files in {time.perf_counter() - start:.0f} s")
            datasets.append((f"synthetic N={len(files)}", tmp / f"synth{count}", files))
        if args.scale > 1:
            _, _, largest = datasets[-1]
            files = link_copies(tmp / "scaled", largest, args.scale)
            datasets.append((f"synthetic N={len(files)} (N={len(largest)} linked x{args.scale})",
                             tmp / "scaled", files))
        if REAL.is_dir() and args.real_copies:
            files = link_real(tmp / "real", args.real_copies)
            datasets.append((f"real samples x{args.real_copies}", tmp / "real", files))
        print("\n" + HEADER)
        best: dict[tuple[str, int], dict[str, float]] = {}
        for label, folder, files in datasets:
            for workers in (args.workers, 1):
                runs = []
                for _ in range(args.repeat):
                    out = tmp / f"out-{folder.name}-{workers}"
                    runs.append(measure("skelssl", str(folder), str(out), str(workers)))
                    shutil.rmtree(out)
                r = min(runs, key=lambda x: x["ingest_s"] + x["preprocess_s"])
                best[(label, workers)] = r
                name = f"skelssl, {label}, workers={workers or 'all'}"
                print(row(name, len(files), size_of(files), r), flush=True)
        label, folder, files = datasets[0]
        r = measure("warm", str(folder), str(tmp / "warm"), str(args.workers), str(2 * args.repeat))
        mb = size_of(files) / 1e6
        one, many = r["ingest_s_workers1"], r[f"ingest_s_workers{args.workers}"]
        print(f"warm in-process ingest only, {label} ({mb:.0f} MB), best of {2 * args.repeat}: "
              f"workers=1 {one:.2f} s ({mb / one:.0f} MB/s), workers={args.workers or 'all'} "
              f"{many:.2f} s ({mb / many:.0f} MB/s), speed-up {one / many:.2f}x; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        synthetic = [d for d in datasets if d[0].startswith("synthetic")]
        streaming = "–"
        if len(synthetic) >= 2:  # the fixed start-up cost cancels out in the difference
            (small, _, f1), (large, _, f2) = synthetic[0], synthetic[-1]
            for workers in (args.workers, 1):
                a, b = best[(small, workers)], best[(large, workers)]
                dt = (b["ingest_s"] + b["preprocess_s"]) - (a["ingest_s"] + a["preprocess_s"])
                dmb = (size_of(f2) - size_of(f1)) / 1e6
                fixed = (a["ingest_s"] + a["preprocess_s"]) - size_of(f1) / 1e6 * dt / dmb
                print(f"marginal throughput {small} -> {large}, workers={workers or 'all'}: "
                      f"{dmb / dt:.0f} MB/s ({(len(f2) - len(f1)) / dt:.0f} files/s), "
                      f"fixed start-up cost {fixed:.2f} s")
                if workers == args.workers and streaming == "–":
                    streaming = f"{dmb / dt:.0f}"
        print("\n" + HEADER)
        diffs = []
        for label, folder, files in (datasets[0], datasets[-1]):
            subset = files[: args.baseline_files]
            listing = tmp / f"baseline-{folder.name}.txt"
            listing.write_text("\n".join(map(str, subset)))
            out = tmp / f"baseline-{folder.name}"
            out.mkdir()
            r = measure("baseline", str(listing), str(out))
            print(row(f"baseline (reference-style), {label}", len(subset), size_of(subset), r), flush=True)
            ref = tmp / f"check-{folder.name}"
            (ref / "raw").mkdir(parents=True)
            for f in subset:
                (ref / "raw" / f.name).symlink_to(f.resolve())
            r = measure("skelssl", str(ref / "raw"), str(ref), str(args.workers))
            print(row(f"skelssl, same files, workers={args.workers or 'all'}", len(subset), size_of(subset), r))
            ours = np.load(ref / "processed" / "joints.npy")
            theirs = np.load(out / "joints.npy")
            diffs.append(f"{label}: max |skelssl - baseline| = {np.abs(ours - theirs).max():.2e}"
                         if ours.shape == theirs.shape else f"{label}: shapes differ {ours.shape} {theirs.shape}")
        print("\nbaseline agreement (processed joints): " + "; ".join(diffs))
        synth_avg = size_of(datasets[0][2]) / len(datasets[0][2])
        real_avg = size_of(sorted(REAL.glob("*.skeleton"))) / 16 if REAL.is_dir() else synth_avg
        print(f"\naverage file size: synthetic {synth_avg / 1e3:.0f} KB, real samples "
              f"{real_avg / 1e3:.0f} KB -> NTU-120 ({NTU120_FILES} files) = "
              f"{NTU120_FILES * synth_avg / 1e9:.1f} GB / {NTU120_FILES * real_avg / 1e9:.1f} GB")
        profile(datasets[0][2][:300], "synthetic")
        if REAL.is_dir():
            profile(sorted(REAL.glob("*.skeleton")), "real samples")
        print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if e2e:
            print("\nMarkdown row for docs/benchmarks.md (streaming: fixed costs removed, "
                  f"{synthetic[0][0] if synthetic else '-'} -> {synthetic[-1][0] if synthetic else '-'}):\n"
                  + E2E_HEADER + "\n" + e2e_row(e2e, streaming))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 2 and sys.argv[1] == "_ref":
        ref_step(sys.argv[2], sys.argv[3:])
    else:
        main()
