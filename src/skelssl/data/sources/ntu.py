"""NTU RGB+D 60/120 `.skeleton` files (methods.md §7.1, §7.2, §8.1): parse, denoise, name → splits.

`ingest.ntu_missing: skip` leaves out the samples on the official missing-skeleton lists
(`skelssl.data.ntu_samples`), as the CTR-GCN/MAMP pipeline does; `keep` reads them like any other
file (their content is unverified here; a file without a usable body fails as malformed, see
`ingest.on_error`).

Zero frames: frames without any body are dropped by the reader and, in files with more than one
body, frames where both actors are zero by the denoiser (the reference scripts); a single-body
file keeps all-zero frames there, so this source removes every frame that is all zero (both
persons) wherever it is, since preprocessing takes the valid frames to be contiguous. A file with
no non-zero frame is a ParseError (file, line 0), skippable with `ingest.on_error: skip`.
"""

from __future__ import annotations

from pathlib import Path

from skelssl.config import IngestParams
from skelssl.console import log
from skelssl.data.ntu import parse_sample_name
from skelssl.data.ntu_samples import missing_samples
from skelssl.data.sources.base import Clip, ReadResult, Source, drop_zero_frames
from skelssl.data.splits import split_membership
from skelssl.errors import ParseError, SkelsslError
from skelssl.data.ntu_denoise import read_denoised


class NTUSource(Source):
    name = "ntu"
    layout = "ntu25"
    persons = 2

    def items(self, root: Path, cfg: IngestParams) -> list[Path]:
        if not root.is_dir():
            raise SkelsslError(
                f"ingest.input: folder {root} not found; put NTU .skeleton files there (e.g. `dvc pull`"
                " or unpack nturgbd_skeletons_s001_to_s017.zip) or point ingest.input elsewhere"
            )
        files = sorted(root.glob("*.skeleton"), key=lambda p: p.name)  # = Path order, 10x faster
        if not files:
            raise SkelsslError(f"ingest.input: no .skeleton files in {root}")
        if cfg.ntu_missing == "skip":
            missing = missing_samples("ntu120")  # includes the NTU-60 list
            kept = [f for f in files if f.name.removesuffix(".skeleton") not in missing]
            if not kept:
                raise SkelsslError(f"ingest.input: all {len(files)} .skeleton files in {root} are on the "
                                   "official missing-skeleton list (ingest.ntu_missing: skip)")
            if len(kept) < len(files):
                log.info("ntu: left out %d sample(s) on the official missing-skeleton list "
                         "(ingest.ntu_missing: skip)", len(files) - len(kept))
            files = kept
        return files

    def read(self, item: Path, cfg: IngestParams) -> ReadResult:
        try:
            sample = parse_sample_name(item.name)
        except ValueError as exc:
            raise ParseError(item, 0, str(exc)) from None
        result = read_denoised(item, cfg.denoise)  # = denoise(read_skeleton(item)), numba
        joints, _ = drop_zero_frames(result.joints, item, 0, "skeleton")  # (T, 2, 25, 3)
        if cfg.second_person == "copy" and result.num_actors == 1:
            joints = joints.copy()
            joints[:, 1] = joints[:, 0]
        meta = {
            "setup": sample.setup, "camera": sample.camera, "performer": sample.performer,
            "replication": sample.replication, "action": sample.action,
            "bodies": result.num_bodies, "actors": result.num_actors,
            "removed_bodies": result.removed_bodies,
        }  # fmt: skip
        return [Clip(sample.name, sample.action - 1, joints, meta, split_membership(sample))]
