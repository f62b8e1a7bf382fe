"""Paper presets are `-S key=value` sets; applied to params.yaml they must validate."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from helpers import ROOT
from skelssl.config import Params

PRESETS = sorted((ROOT / "presets").glob("*.txt"))


def apply_overrides(params: dict, lines: list[str]) -> dict:
    yaml = YAML(typ="safe", pure=True)
    for line in lines:
        key, _, value = line.partition("=")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            assert part in node, f"unknown key {key}"
            node = node[part]
        assert leaf in node, f"unknown key {key}"
        node[leaf] = yaml.load(value)
    return params


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_overrides_existing_keys_and_validates(preset):
    lines = [ln.strip() for ln in preset.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    params = YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())
    validated = Params.model_validate(apply_overrides(params, lines))
    assert validated.method == preset.stem.split("-")[0]


def test_skeleton2vec_paper_preset_is_the_paper_configuration():
    lines = [ln for ln in (ROOT / "presets/skeleton2vec-paper.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    params = apply_overrides(YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text()), lines)
    p = Params.model_validate(params)
    cfg = p.methods.skeleton2vec
    assert (p.preprocess.frames // cfg.backbone.t_patch) * 25 == 750  # 30 × 25 tokens
    assert (cfg.backbone.dim, cfg.backbone.depth, cfg.backbone.heads) == (256, 8, 8)
    assert cfg.top_k == 8 and cfg.mask.ratio == 0.9 and cfg.mask.tube_tokens == 5
    assert p.pretrain.epochs == 800 and cfg.export == "teacher" and not cfg.skip_absent_persons
