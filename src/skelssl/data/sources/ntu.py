"""NTU RGB+D 60/120 `.skeleton` files (methods.md §7.1, §7.2, §8.1): parse, denoise, name → splits."""

from __future__ import annotations

from pathlib import Path

from skelssl.config import IngestParams
from skelssl.data.denoise import denoise
from skelssl.data.ntu import parse_sample_name, read_skeleton
from skelssl.data.sources.base import Clip, Source
from skelssl.data.splits import split_membership
from skelssl.errors import ParseError, SkelsslError


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
        files = sorted(root.glob("*.skeleton"))
        if not files:
            raise SkelsslError(f"ingest.input: no .skeleton files in {root}")
        return files

    def read(self, item: Path, cfg: IngestParams) -> list[Clip]:
        try:
            sample = parse_sample_name(item.name)
        except ValueError as exc:
            raise ParseError(item, 0, str(exc)) from None
        result = denoise(read_skeleton(item), cfg.denoise)
        joints = result.joints  # (T, 2, 25, 3)
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
