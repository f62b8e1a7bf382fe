"""Paper presets are `-S key=value` sets; applied to params.yaml they must validate."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from helpers import ROOT
from skelssl.config import Params
from skelssl.errors import ParamsError
from skelssl.presets import apply_overrides, read_preset

PRESETS = sorted((ROOT / "presets").glob("*.txt"))


def _params() -> dict:
    return YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_overrides_existing_keys_and_validates(preset):
    validated = Params.model_validate(apply_overrides(_params(), read_preset(preset)))
    assert validated.method == preset.stem.split("-")[0]


def test_unknown_override_key_is_rejected():
    with pytest.raises(ParamsError, match="methods.skeleton2vec.nope: unknown key"):
        apply_overrides(_params(), ["methods.skeleton2vec.nope=1"])
    with pytest.raises(ParamsError, match="expected key=value"):
        apply_overrides(_params(), ["method"])


def test_skeleton2vec_paper_preset_is_the_paper_configuration():
    p = Params.model_validate(apply_overrides(_params(), read_preset(ROOT / "presets/skeleton2vec-paper.txt")))
    cfg = p.methods.skeleton2vec
    assert (p.preprocess.frames // cfg.backbone.t_patch) * 25 == 750  # 30 × 25 tokens
    assert (cfg.backbone.dim, cfg.backbone.depth, cfg.backbone.heads) == (256, 8, 8)
    assert cfg.top_k == 8 and cfg.mask.ratio == 0.9 and cfg.mask.tube_tokens == 5
    assert cfg.optim.epochs == 800 and cfg.export == "teacher" and not cfg.skip_absent_persons
