"""Paper presets are `-S key=value` sets; applied to params.yaml they must validate."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from helpers import _TINY, ROOT, finetune_update, merge
from skelssl.config import FinetuneParams, LinearParams, Params, SemiParams, StreamsParams, load_params
from skelssl.errors import ParamsError
from skelssl.presets import apply_overrides, read_preset

PRESETS = sorted((ROOT / "presets").glob("*.txt"))


def _params() -> dict:
    return YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_overrides_existing_keys_and_validates(preset):
    lines = read_preset(preset)
    validated = Params.model_validate(apply_overrides(_params(), lines))
    assert validated.method == preset.stem.split("-")[0]
    dumped = validated.model_dump()
    for line in lines:  # every `key=value` of the preset is the validated value of its key
        key, _, value = line.partition("=")
        node = dumped
        for part in key.split("."):
            node = node[part]
        expected = YAML(typ="safe", pure=True).load(value)
        got = list(node) if isinstance(node, tuple) else node
        assert got == expected, (key, got, expected)


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


# ---------------------------------------------------------------------------- paper protocols

PAPER_PRESETS = sorted((ROOT / "presets").glob("*-paper.txt"))

# The evaluation protocols each paper reports (docs/presets.md; methods.md §1.5-§5.6). The evaluate
# stage's linear probe runs in every DAG; for graph SkeletonMAE (fine-tuning only) it keeps its default.
REPORTED = {
    "mamp": ("linear", "finetune", "semi", "transfer"),
    "skeleton2vec": ("linear", "finetune", "semi", "transfer"),
    "skeletonmae_st": ("linear", "finetune", "semi", "transfer"),
    "skeletonmae_graph": ("finetune", "transfer"),
    "pstl": ("linear", "finetune", "semi", "streams"),
}


def _recipe_keys(protocol: str, p: Params) -> set[str]:
    """The `evaluate.<protocol>` keys that define the protocol's recipe (those that matter for it)."""
    if protocol == "linear":
        keys = set(LinearParams.model_fields) - ({"momentum"} if p.evaluate.linear.optimizer != "sgd" else set())
        keys -= {"augment"}  # set key by key (a preset line holds no spaces): its kind, and its recipe when used
        keys |= {"augment.kind"}
        if p.evaluate.linear.augment.kind != "none":
            keys |= {"augment.rotation", "augment.temporal.kind"}
            if p.evaluate.linear.augment.temporal.kind == "random_crop":
                keys |= {"augment.temporal.min_ratio", "augment.temporal.max_ratio", "augment.temporal.min_frames"}
    elif protocol == "finetune":  # the recipe of the method's backbone, and its epochs
        backbone = p.method_params.backbone.name
        ft = p.evaluate.finetune.recipe(backbone)
        keys = set(FinetuneParams.model_fields)
        keys -= {"momentum"} if ft.optimizer != "sgd" else set()
        keys -= {"gamma"} if ft.schedule != "step" else set()
        keys = {f"{backbone}.{key}" for key in keys} | {f"epochs.{backbone}"}
    elif protocol == "semi":
        keys = set(SemiParams.model_fields)
    elif protocol == "streams":
        keys = set(StreamsParams.model_fields)
    else:  # transfer: the rest of the block describes the embedded stand-in target, not the recipe
        keys = {"epochs"}
    return {f"evaluate.{protocol}.{key}" for key in keys}


def _preset_params(preset) -> Params:
    return Params.model_validate(apply_overrides(_params(), read_preset(preset)))


@pytest.mark.parametrize("preset", PAPER_PRESETS, ids=lambda p: p.stem)
def test_paper_preset_passes_params_check(preset, tmp_path):
    """What `skelssl params check` reads: the preset applied to params.yaml, written as a file."""
    path = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(apply_overrides(_params(), read_preset(preset)), path)
    assert load_params(path).method == preset.stem.split("-")[0]


@pytest.mark.parametrize("preset", PAPER_PRESETS, ids=lambda p: p.stem)
def test_paper_preset_sets_every_reported_protocol(preset):
    """No protocol the paper reports is left at the CPU defaults (e.g. a 3-epoch fine-tune)."""
    method = preset.stem.split("-")[0]
    p = _preset_params(preset)
    keys = {line.partition("=")[0] for line in read_preset(preset)}
    for protocol in REPORTED[method]:
        missing = _recipe_keys(protocol, p) - keys
        assert not missing, f"{preset.name} leaves {sorted(missing)} at the CPU defaults"
    if {"semi", "transfer"} & set(REPORTED[method]):  # both train with the fine-tuning recipe
        assert not _recipe_keys("finetune", p) - keys


def _get(p: Params, dotted: str):
    node = p
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


MAMP_CROP = {  # [MAMP-code] feeder/tools.py valid_crop_resize: p_interval [0.5, 1], length >= 64
    "kind": "random_crop", "min_ratio": 0.5, "max_ratio": 1.0, "min_frames": 64}
MAMP_PROBE = {  # [MAMP-code] main_linprobe.py + linprobe_t120_layer8.yaml + script_linprobe.sh (2 GPUs)
    "evaluate.linear.head": "bn_linear", "evaluate.linear.optimizer": "sgd", "evaluate.linear.lr": 0.1,
    "evaluate.linear.momentum": 0.9, "evaluate.linear.weight_decay": 0.0, "evaluate.linear.schedule": "cosine",
    "evaluate.linear.epochs": 100, "evaluate.linear.batch_size": 256,
    # the train feeder of linprobe_t120_layer8.yaml: p_interval [0.5, 1] + random_rot (theta 0.3)
    "evaluate.linear.augment.kind": "crop_rotate", "evaluate.linear.augment.rotation": 0.3,
    **{f"evaluate.linear.augment.temporal.{k}": v for k, v in MAMP_CROP.items()},
}
MAMP_FINETUNE = {  # main_finetune.py, finetune_t120_layer8_decay.yaml, script_finetune.sh, semi configs + script_semi.sh
    "evaluate.finetune.transformer.optimizer": "adamw", "evaluate.finetune.transformer.schedule": "cosine",
    "evaluate.finetune.transformer.lr": 3e-4, "evaluate.finetune.transformer.min_lr": 1e-5, "evaluate.finetune.transformer.warmup_epochs": 5,
    "evaluate.finetune.epochs.transformer": 100, "evaluate.finetune.transformer.batch_size": 48, "evaluate.finetune.transformer.weight_decay": 0.05,
    "evaluate.finetune.transformer.layer_decay": 0.8, "evaluate.finetune.transformer.drop_path": 0.3,
    "evaluate.finetune.transformer.label_smoothing": 0.1,
    "evaluate.semi.fractions": [0.01, 0.1], "evaluate.semi.repeats": 5, "evaluate.semi.balanced": False,
    "evaluate.semi.epochs": 100, "evaluate.transfer.epochs": 100,
}
PINNED = {
    "mamp": MAMP_PROBE | MAMP_FINETUNE | {f"methods.mamp.augment.temporal.{k}": v for k, v in MAMP_CROP.items()},
    # MAMP's model_mae scripts (Wu et al.'s own: unverified)
    "skeletonmae_st": MAMP_PROBE | MAMP_FINETUNE | {f"methods.skeletonmae_st.augment.temporal.{k}": v
                                                    for k, v in MAMP_CROP.items()},
    "skeleton2vec": MAMP_PROBE | MAMP_FINETUNE | {  # dev configs
        "evaluate.linear.batch_size": 128,
        # ntu60_xsub/pretrain_skt2vec2.yaml and linear_probe.yaml: UniformSampleDecode clip_len 90, RandomRot 0.3
        "methods.skeleton2vec.augment.temporal.kind": "uniform_segments", "methods.skeleton2vec.augment.rotation": 0.3,
        "evaluate.linear.augment.temporal.kind": "uniform_segments", "preprocess.frames": 90},
    "skeletonmae_graph": {  # STRL fine-tuning, [GSMAE-paper] (methods.md §3.5)
        "evaluate.finetune.gin.optimizer": "sgd", "evaluate.finetune.gin.momentum": 0.9, "evaluate.finetune.gin.lr": 0.1,
        "evaluate.finetune.gin.schedule": "step", "evaluate.finetune.gin.milestones": [90, 100],
        "evaluate.finetune.gin.gamma": 0.1, "evaluate.finetune.epochs.gin": 110, "evaluate.finetune.gin.warmup_epochs": 5,
        "evaluate.finetune.gin.label_smoothing": 0.1, "evaluate.finetune.gin.batch_size": 128,
    },
    "pstl": {  # [PSTL-code] config.py, procedure.py, model.py, dataset.py, module/gcn/utils/graph.py
        "methods.pstl.backbone.partition": "reference",
        "evaluate.linear.head": "linear", "evaluate.linear.optimizer": "adam", "evaluate.linear.lr": 0.01,
        "evaluate.linear.weight_decay": 0.0, "evaluate.linear.schedule": "cosine_epoch",
        "evaluate.linear.epochs": 150, "evaluate.linear.batch_size": 128, "evaluate.linear.augment.kind": "none",
        "evaluate.finetune.stgcn.optimizer": "adam", "evaluate.finetune.stgcn.lr": 5e-3,
        "evaluate.finetune.stgcn.schedule": "cosine_epoch", "evaluate.finetune.stgcn.min_lr": 0.0,
        "evaluate.finetune.stgcn.warmup_epochs": 0, "evaluate.finetune.stgcn.weight_decay": 0.0,
        "evaluate.finetune.epochs.stgcn": 150, "evaluate.finetune.stgcn.batch_size": 128,
        "evaluate.finetune.stgcn.label_smoothing": 0.0, "evaluate.finetune.stgcn.layer_decay": 1.0,
        "evaluate.semi.balanced": True, "evaluate.semi.epochs": 150,
        "evaluate.streams.streams": ["joint", "motion", "bone"], "evaluate.streams.epochs": 150,
    },
}


@pytest.mark.parametrize("preset", PAPER_PRESETS, ids=lambda p: p.stem)
def test_paper_preset_pins_the_reference_numbers(preset):
    method = preset.stem.split("-")[0]
    p = _preset_params(preset)
    for key, want in PINNED[method].items():
        assert _get(p, key) == want, key


def test_default_pstl_backbone_uses_the_reference_partition():
    assert Params.model_validate(_params()).methods.pstl.backbone.partition == "reference"


# ------------------------------------------------------- one epoch of every protocol, embedded data

PROTOCOL_FRAMES = 8


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The embedded (synthesized NTU-format) dataset, tiny: 6 actions, 4 performers, 8 frames."""
    from skelssl.pipeline import ingest, preprocess, synthesize

    root = tmp_path_factory.mktemp("embedded")
    params = Params.model_validate(_tiny_common(_params()))
    synthesize.run(params, root / "raw")
    ingest.run(params, root / "raw", root / "ingested")
    preprocess.run(params, root / "ingested", root / "processed")
    return root / "processed"


def _tiny_common(data: dict) -> dict:
    return merge(data, {
        "synthesize": {"classes": 6, "subjects": 4, "frames": {"min": 20, "max": 30}},
        "preprocess": {"frames": PROTOCOL_FRAMES},
        "pretrain": {"device": "cpu", "threads": 1, "checkpoint_every": 0},
    })


def _tiny_paper(preset) -> Params:
    """The preset with every size shrunk and every protocol cut to one epoch; recipes untouched."""
    method = preset.stem.split("-")[0]
    data = _tiny_common(apply_overrides(_params(), read_preset(preset)))
    block = merge(data["methods"][method], _TINY[method])
    block["optim"].update(epochs=1, batch_size=8, warmup_epochs=0)
    if method == "skeleton2vec":
        block["mask"]["tube_tokens"] = 2  # 4 temporal tokens at T = 8
    data["methods"][method] = block
    ev = data["evaluate"]
    ev["linear"].update(epochs=1, batch_size=8)
    ev["finetune"] = merge(ev["finetune"], finetune_update(epochs=1, batch_size=8))
    ev["semi"].update(epochs=1, repeats=1, fractions=[0.5])  # 1% of 18 clips is one clip
    ev["transfer"].update(epochs=1, subjects=4)
    ev["streams"].update(epochs=1)
    return Params.model_validate(data)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PAPER_PRESETS, ids=lambda p: p.stem)
def test_paper_preset_runs_one_epoch_of_each_protocol(preset, embedded, tmp_path):
    import json

    from skelssl.pipeline import evaluate, finetune, pretrain, streams, transfer

    method = preset.stem.split("-")[0]
    params = _tiny_paper(preset)
    pretrain.run(params, embedded, tmp_path / "pretrain", tmp_path / "history", tmp_path / "state")
    encoder = tmp_path / "pretrain" / "encoder.pt"
    evaluate.run(params, embedded, encoder, tmp_path / "eval")  # the linear probe: every DAG runs it
    stages = {"finetune": lambda out: finetune.run_finetune(params, embedded, encoder, out),
              "semi": lambda out: finetune.run_semi(params, embedded, encoder, out),
              "transfer": lambda out: transfer.run(params, encoder, out),
              "streams": lambda out: streams.run(params, embedded, encoder, out)}
    ran = ["eval"]
    for protocol in REPORTED[method]:
        if protocol in stages:
            stages[protocol](tmp_path / protocol)
            ran.append(protocol)
    for name in ran:
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics and "skipped" not in metrics, name
