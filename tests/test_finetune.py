import json
import math

import numpy as np
import polars as pl
import pytest
import torch
from ruamel.yaml import YAML

from helpers import LAYOUT, default_params
from skelssl.backbones import backbone_spec, build_backbone, random_backbone
from skelssl.config import FinetuneEpochs, GINParams, STGCNParams, TransformerParams
from skelssl.errors import SkelsslError
from skelssl.evaluation.finetune import FinetuneResult, _train_epoch, finetune, lr_param_groups
from skelssl.evaluation.heads import TransformerClassifier, build_classifier
from skelssl.io import load_encoder, save_encoder
from skelssl.evaluation.subsets import label_subset
from skelssl.pipeline import finetune as finetune_stage
from skelssl.pipeline.dataset import load_processed
from skelssl.pipeline.finetune import fraction_key, run_finetune, run_semi
from skelssl.repro import derive_seed, torch_generator

torch.set_num_threads(1)

T = 8
CPU = torch.device("cpu")
BACKBONES = {
    "transformer": TransformerParams(name="transformer", dim=16, depth=2, heads=2, mlp_ratio=2.0,
                                     t_patch=2, layer_scale=0.0, drop_path=0.0),
    "stgcn": STGCNParams(name="stgcn", hidden_channels=4, hidden_dim=16, temporal_kernel=3,
                         dropout=0.0, edge_importance=True, partition="reference"),
    "gin": GINParams(name="gin", dim=8, hidden=8, layers=1),
}


def _task(per_class: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two persons of Gaussian noise (std 0.3) shifted by a class-specific constant offset."""
    y = torch.arange(classes).repeat_interleave(per_class)
    offset = (y.float() - (classes - 1) / 2).view(-1, 1, 1, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    noise = 0.3 * torch.randn(len(y), 2, T, LAYOUT.num_joints, 3, generator=gen)
    return noise + offset, y


def _encoder(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_backbone(BACKBONES[name], LAYOUT, T)


def _cfg(**update):
    base = {"batch_size": 8, "lr": 3e-3, "warmup_epochs": 1}
    return default_params().evaluate.finetune.transformer.model_copy(update=base | update)


@pytest.mark.parametrize(("name", "epochs"), [("transformer", 6), ("stgcn", 18), ("gin", 12)])
def test_finetune_solves_a_separable_task(name, epochs):
    result = finetune(_encoder(name), name, _task(8, 3, 0), _task(6, 3, 1), 3, _cfg(), epochs,
                      torch.Generator().manual_seed(0), CPU)
    assert len(result.top1) == len(result.losses) == epochs
    assert result.last_top1 == 100.0
    assert result.losses[-1] < result.losses[0]


def test_finetune_is_deterministic_and_leaves_global_rng_and_encoder_alone():
    encoder = _encoder("transformer")
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        runs.append(finetune(encoder, "transformer", _task(4, 3, 0), _task(2, 3, 1), 3, _cfg(), 2,
                             torch.Generator().manual_seed(5), CPU))
        assert torch.equal(torch.get_rng_state(), state)
    assert runs[0] == runs[1]  # drop-path (0.1) and head dropout draw from the seeded, forked RNG
    other = finetune(encoder, "transformer", _task(4, 3, 0), _task(2, 3, 1), 3, _cfg(), 2,
                     torch.Generator().manual_seed(6), CPU)
    assert other.losses != runs[0].losses
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_layer_decay_groups_have_the_expected_lrs():
    model = build_classifier("transformer", _encoder("transformer"), 3, 0.1, 2)
    groups = lr_param_groups(model, weight_decay=0.05, layer_decay=0.5)
    scale = {name: g["lr_scale"] for g in groups for name in g["names"]}
    decay = {name: g["weight_decay"] for g in groups for name in g["names"]}
    assert len(scale) == len(list(model.parameters()))
    # depth 2: embeddings = layer 0, blocks 1..2, final norm + head = layer 3; scale 0.5^(3 - id)
    assert scale["encoder.patch_embed.weight"] == scale["encoder.pos_spatial"] == 0.125
    assert scale["encoder.pos_temporal"] == 0.125
    assert scale["encoder.blocks.0.attn.qkv.weight"] == 0.25
    assert scale["encoder.blocks.1.mlp.0.weight"] == 0.5
    assert scale["encoder.norm.weight"] == scale["head.0.weight"] == scale["head.3.bias"] == 1.0
    assert decay["encoder.blocks.0.attn.qkv.weight"] == decay["head.0.weight"] == 0.05
    for name in ("encoder.pos_spatial", "encoder.blocks.0.attn.qkv.bias", "encoder.norm.weight",
                 "encoder.blocks.1.norm1.weight", "head.1.weight"):
        assert decay[name] == 0.0, name
    # the step sets each group's lr to the schedule's lr times its scale
    opt = torch.optim.AdamW(groups, lr=1.0)
    schedule = {"cfg": _cfg(lr=2e-3, min_lr=2e-3, warmup_epochs=0), "epochs": 5}
    x, y = _task(4, 3, 0)
    _train_epoch(model, opt, torch.nn.CrossEntropyLoss(), x, y, 6, 0, schedule, torch.Generator(), CPU)
    assert sorted({round(g["lr"], 12) for g in opt.param_groups}) == [2.5e-4, 5e-4, 1e-3, 2e-3]


def test_other_backbones_get_no_layer_decay():
    for name in ("stgcn", "gin"):
        model = build_classifier(name, _encoder(name), 3, 0.1, 2)
        assert {g["lr_scale"] for g in lr_param_groups(model, 0.05, 0.5)} == {1.0}


def test_transformer_head_drop_path_and_person_pooling():
    encoder = _encoder("transformer")
    model = build_classifier("transformer", encoder, 3, 0.2, 2)
    assert isinstance(model, TransformerClassifier)
    assert [b.drop_path.p for b in model.encoder.blocks] == [0.0, pytest.approx(0.2)]
    assert [b.drop_path.p for b in encoder.blocks] == [0.0, 0.0]  # the original is untouched
    assert model.head[0].in_features == LAYOUT.num_joints * 16  # joint features concatenated
    x, _ = _task(2, 2, 0)
    model.eval()
    with torch.no_grad():
        out = model(x)
        assert out.shape == (4, 3)
        assert torch.allclose(out, model(x.flip(1)), atol=1e-5)  # mean over persons
        assert not torch.allclose(out, model(x.flip(3)), atol=1e-3)  # joints are not pooled


def test_last_and_best_are_reported_separately():
    result = FinetuneResult(top1=[50.0, 80.0, 80.0, 70.0], losses=[1.0, 0.8, 0.7, 0.6])
    assert (result.last_top1, result.best_top1, result.best_epoch) == (70.0, 80.0, 2)


def test_finetune_needs_two_clips_per_batch():
    with pytest.raises(SkelsslError, match="at least 2 clips"):
        finetune(_encoder("stgcn"), "stgcn", _task(1, 1, 0), _task(1, 2, 1), 2, _cfg(), 1,
                 torch.Generator(), CPU)


def test_fraction_key():
    assert [fraction_key(f) for f in (0.01, 0.1, 0.005, 0.25)] == ["1%", "10%", "0.5%", "25%"]


# ------------------------------------------------------------------ pipeline on a tiny folder


@pytest.fixture
def tiny_run(tmp_path):
    """A processed folder (3 classes, 8 training + 4 test clips each) and a stgcn encoder."""
    x_train, y_train = _task(8, 3, 0)
    x_test, y_test = _task(4, 3, 1)
    x = torch.cat([x_train, x_test]).numpy()
    processed = tmp_path / "processed"
    processed.mkdir()
    np.save(processed / "joints.npy", x)
    np.save(processed / "motion.npy", np.zeros(x.shape[:4], dtype=np.float32))
    pl.DataFrame({"label": torch.cat([y_train, y_test]).numpy(),
                  "xsub_train": [True] * len(y_train) + [False] * len(y_test)}).write_parquet(
        processed / "index.parquet")
    (processed / "meta.json").write_text(json.dumps({"layout": LAYOUT.name, "persons": 2}))
    encoder_path = tmp_path / "encoder.pt"
    save_encoder(encoder_path, _encoder("stgcn", seed=3).state_dict(),
                 backbone_spec(BACKBONES["stgcn"], LAYOUT, T), {})
    params = default_params()
    ev = params.evaluate.model_copy(update={
        "finetune": params.evaluate.finetune.model_copy(update={
            # the stgcn encoder's recipe and epochs; the other backbones' differ, so the asserts on
            # epochs and batch size below show that the stage picks the encoder's backbone
            "stgcn": _cfg(), "epochs": FinetuneEpochs(transformer=5, stgcn=3, gin=4)}),
        "semi": params.evaluate.semi.model_copy(update={"repeats": 2, "epochs": 2}),
    })
    run = params.pretrain.model_copy(update={"device": "cpu", "threads": 1})
    params = params.model_copy(update={"evaluate": ev, "pretrain": run})
    return params, processed, encoder_path, tmp_path / "out"


def _table(out, name: str) -> pl.DataFrame:
    """A long live table (epoch, series, value) of the stage's live log."""
    return pl.DataFrame(json.loads((out / "live" / "plots" / "custom" / f"{name}.json").read_text()))


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_run_finetune_writes_metrics_and_live_log(tiny_run):
    params, processed, encoder_path, out = tiny_run
    run_finetune(params, processed, encoder_path, out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"finetune", "scratch"}
    for run in metrics.values():
        assert set(run) == {"top1_last", "top1_best", "best_epoch"}
        assert 0.0 <= run["top1_last"] <= run["top1_best"] <= 100.0
        assert 1 <= run["best_epoch"] <= 3
    history = _table(out, "top1")  # long: one row per (run, epoch)
    assert history.columns == ["epoch", "series", "top1"]
    assert history["series"].to_list() == ["finetune"] * 3 + ["scratch"] * 3
    assert history["epoch"].to_list() == [1, 2, 3] * 2
    run = {name: history.filter(pl.col("series") == name)["top1"] for name in ("finetune", "scratch")}
    assert run["finetune"].max() == metrics["finetune"]["top1_best"]
    assert run["scratch"][-1] == metrics["scratch"]["top1_last"]
    loss = _table(out, "loss")
    assert loss.columns == ["epoch", "series", "loss"] and loss["series"].to_list() == history["series"].to_list()
    assert all(math.isfinite(v) and v > 0 for v in loss["loss"])
    # the live summary: each run's latest top-1 and the epochs done over both runs; no counts
    live = json.loads((out / "live" / "metrics.json").read_text())
    assert live == {"finetune": {"top1": metrics["finetune"]["top1_last"]},
                    "scratch": {"top1": metrics["scratch"]["top1_last"]}, "step": 6}
    info = YAML(typ="safe").load(out / "live" / "params.yaml")  # facts and settings, not metrics
    assert (info["train_samples"], info["test_samples"], info["classes"]) == (24, 12, 3)
    assert info["finetune"]["epochs"] == 3 and info["scratch_layer_decay"] == 1.0
    assert info["backbone"] == "stgcn" and info["finetune"]["batch_size"] == 8  # not the transformer recipe's 32
    assert _files(out) == [".skelssl-output", "live/metrics.json", "live/params.yaml",
                           "live/plots/custom/loss.json", "live/plots/custom/top1.json",
                           "metrics.json"]  # no temp files, nothing else (e.g. no dvc.yaml, report)


def test_scratch_encoder_is_random_and_reproducible(tiny_run):
    _, _, encoder_path, _ = tiny_run
    checkpoint = load_encoder(encoder_path)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a, b = random_backbone(checkpoint["backbone"], 11), random_backbone(checkpoint["backbone"], 11)
    assert torch.equal(torch.get_rng_state(), state)
    c = random_backbone(checkpoint["backbone"], 12)
    assert not torch.equal(a.state_dict()["units.1.gcn.weight"], c.state_dict()["units.1.gcn.weight"])
    pretrained = checkpoint["state_dict"]
    weight = "units.1.gcn.weight"
    assert not torch.equal(a.state_dict()[weight], pretrained[weight])
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_run_semi_writes_mean_std_over_repeats(tiny_run, monkeypatch):
    params, processed, encoder_path, out = tiny_run
    weight = "units.1.gcn.weight"  # a stgcn weight that tells the encoders apart
    calls = []

    def recording_finetune(encoder, name, train, test, classes, cfg, epochs, generator, device, label,
                           on_epoch):
        calls.append({"label": label, "train": train, "layer_decay": cfg.layer_decay, "epochs": epochs,
                      "generator": generator.get_state(), "weights": encoder.state_dict()[weight]})
        return real_finetune(encoder, name, train, test, classes, cfg, epochs, generator, device, label,
                             on_epoch=on_epoch)

    real_finetune = finetune_stage.finetune
    monkeypatch.setattr(finetune_stage, "finetune", recording_finetune)
    run_semi(params, processed, encoder_path, out)
    monkeypatch.undo()
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["semi", "semi_scratch"]
    for protocol in metrics.values():
        assert list(protocol) == ["1%", "10%"]  # params.yaml fractions 0.01, 0.1
        for entry in protocol.values():
            assert set(entry) == {"top1_mean", "top1_std", "runs", "top1_best_mean"}
            runs = entry["runs"]
            assert len(runs) == 2
            assert entry["top1_mean"] == pytest.approx(sum(runs) / 2, abs=0.01)
            assert entry["top1_std"] == pytest.approx(abs(runs[0] - runs[1]) / math.sqrt(2), abs=0.02)
            assert entry["top1_best_mean"] >= entry["top1_mean"] - 0.01
    semi, scratch = metrics["semi"], metrics["semi_scratch"]
    history = _table(out, "top1")  # long: one row per (run, epoch), in the order they trained
    assert history.columns == ["epoch", "series", "top1"]
    assert list(dict.fromkeys(history["series"])) == [
        "semi 1% #0", "semi scratch 1% #0", "semi 1% #1", "semi scratch 1% #1",
        "semi 10% #0", "semi scratch 10% #0", "semi 10% #1", "semi scratch 10% #1"]
    assert history["epoch"].to_list() == [1, 2] * 8  # semi.epochs for both encoders
    run = {name: history.filter(pl.col("series") == name)["top1"] for name in history["series"]}
    assert run["semi 1% #1"][-1] == semi["1%"]["runs"][1]
    assert run["semi scratch 10% #0"][-1] == scratch["10%"]["runs"][0]
    assert _table(out, "loss")["series"].to_list() == history["series"].to_list()
    live = json.loads((out / "live" / "metrics.json").read_text())  # each run's latest top-1
    assert live["step"] == 16
    for k in ("1%", "10%"):
        assert [live["semi"][k][f"#{r}"]["top1"] for r in range(2)] == semi[k]["runs"]
        assert [live["semi_scratch"][k][f"#{r}"]["top1"] for r in range(2)] == scratch[k]["runs"]
    info = YAML(typ="safe").load(out / "live" / "params.yaml")
    assert info["subset_samples"] == {"1%": [3, 3], "10%": [3, 3]} and "epochs" not in info["finetune"]

    # each scratch run: the same subset as its pretrained twin, the random-init encoder, layer
    # decay 1.0, and its own generator (key "scratch" of the run's seed)
    by_label = {c["label"]: c for c in calls}
    assert len(calls) == len(by_label) == 8
    x_train, _, y_train = load_processed(processed).split("xsub", True)
    checkpoint = load_encoder(encoder_path)
    random_init = random_backbone(checkpoint["backbone"], derive_seed(params.base.seed, "random_init"))
    random_weights = random_init.state_dict()[weight]
    assert not torch.equal(random_weights, checkpoint["state_dict"][weight])
    for key, fraction in (("1%", 0.01), ("10%", 0.1)):
        for r in range(2):
            ours, base = by_label[f"semi {key} #{r}"], by_label[f"semi scratch {key} #{r}"]
            assert torch.equal(ours["train"][0], base["train"][0])
            assert torch.equal(ours["train"][1], base["train"][1])
            assert torch.equal(ours["weights"], checkpoint["state_dict"][weight])
            assert torch.equal(base["weights"], random_weights)
            assert (ours["layer_decay"], base["layer_decay"]) == (params.evaluate.finetune.stgcn.layer_decay, 1.0)
            assert ours["epochs"] == base["epochs"] == 2
            seed = derive_seed(params.base.seed, f"semi/{fraction}/{r}")
            idx = label_subset(y_train, fraction, params.evaluate.semi.balanced, seed)
            assert len(idx) == 3  # balanced: 1 of the 8 clips of each class (round(0.8) = 1)
            assert torch.equal(base["train"][0], x_train[idx]) and torch.equal(base["train"][1], y_train[idx])
            assert torch.equal(base["generator"], torch_generator(seed, "scratch").get_state())
            assert torch.equal(ours["generator"], torch_generator(seed, "finetune").get_state())

    # determinism, and every (fraction, repeat) independent of the others: a 10%-only run reproduces
    # the 10% entries of both encoders exactly
    only_10 = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={
        "semi": params.evaluate.semi.model_copy(update={"fractions": [0.1]})})})
    torch.manual_seed(123)  # the global RNG must not matter
    run_semi(only_10, processed, encoder_path, out.parent / "again")
    again = json.loads((out.parent / "again" / "metrics.json").read_text())
    assert again == {"semi": {"10%": semi["10%"]}, "semi_scratch": {"10%": scratch["10%"]}}
