"""Stage `transfer`: fine-tune the pretrained encoder on another dataset than it was pretrained on,
next to the same recipe from scratch on that dataset (MAMP's transfer protocol: NTU → PKU-MMD II).

On the embedded data the target is the synthesizer re-run with `evaluate.transfer` (another seed,
so other subjects' proportions, styles and speeds; fewer subjects; a noisier sensor), then ingested
and preprocessed with the project's own `ingest` and `preprocess` settings, in a temporary folder.
Training and test sides are the target's `base.split`. Fine-tuning follows `evaluate.finetune.<backbone>`
with `evaluate.transfer.epochs`.

Writes `metrics.json` {"transfer": {top1_last, top1_best, best_epoch}, "scratch": {...}} (accuracies
only) and `info.json` {"target": {"train": n, "test": n}} (the target's clip counts: facts about the
run, not results, so not a DVC metrics file). For an encoder of another layout than the embedded
target's (NTU-25), e.g. one pretrained on MSR Action3D, the stage writes an empty `metrics.json`
and `info.json` {"skipped": reason}.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.evaluation.finetune import finetune
from skelssl.io import load_encoder, write_json
from skelssl.pipeline import ingest, preprocess, synthesize
from skelssl.pipeline.dataset import Processed, check_encoder_fits, load_processed
from skelssl.pipeline.finetune import finetune_summary
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator

TARGET_LAYOUT = "ntu25"  # the synthesizer writes NTU RGB+D files
METRICS = "metrics.json"
INFO = "info.json"  # dvc.yaml: a plain output (cache: false), not a metrics file


def target_params(params: Params) -> Params:
    """The params that synthesize the target dataset (everything else unchanged)."""
    cfg = params.evaluate.transfer
    noise = params.synthesize.noise.model_copy(update={"jitter": cfg.jitter})
    synth = params.synthesize.model_copy(update={"seed": cfg.seed, "subjects": cfg.subjects, "noise": noise})
    ingest_cfg = params.ingest.model_copy(update={"source": "ntu"})  # the synthesizer writes NTU files
    return params.model_copy(update={"synthesize": synth, "ingest": ingest_cfg})


def build_target(params: Params, work: Path) -> Processed:
    """Synthesize → ingest → preprocess the target dataset under `work`."""
    target = target_params(params)
    synthesize.run(target, work / "raw")
    ingest.run(target, work / "raw", work / "ingested")
    preprocess.run(target, work / "ingested", work / "processed")
    return load_processed(work / "processed")


def run(params: Params, encoder_path: Path, out_dir: Path) -> None:
    claim_output_dir(out_dir, "transfer", (METRICS, INFO), inputs=(encoder_path,))
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    checkpoint = load_encoder(encoder_path)
    spec, seed = checkpoint["backbone"], params.base.seed
    cfg = params.evaluate.finetune.recipe(spec["config"]["name"])
    if spec["layout"] != TARGET_LAYOUT:  # e.g. pretrained on MSR Action3D (kinect20)
        reason = (f"the encoder's layout is {spec['layout']}; the embedded transfer target is "
                  f"{TARGET_LAYOUT} (run `skelssl finetune` on a processed dataset of its layout)")
        log.warning("transfer: skipped: %s", reason)
        write_json(out_dir / METRICS, {})
        write_json(out_dir / INFO, {"skipped": reason})
        return
    with tempfile.TemporaryDirectory(prefix="skelssl-transfer-") as work:
        data = build_target(params, Path(work))
    check_encoder_fits(checkpoint, encoder_path, data, "the embedded transfer target")
    x, _, y = data.split(params.base.split, train=True)
    test_x, _, test_y = data.split(params.base.split, train=False)
    runs = {"transfer": (backbone_from_checkpoint(checkpoint), cfg),
            "scratch": (random_backbone(spec, derive_seed(seed, "random_init")),
                        cfg.model_copy(update={"layer_decay": 1.0}))}
    metrics: dict = {}
    for name, (encoder, run_cfg) in runs.items():
        result = finetune(encoder, spec["config"]["name"], (x, y), (test_x, test_y), data.num_classes,
                          run_cfg, params.evaluate.transfer.epochs, torch_generator(seed, f"transfer/{name}"),
                          device, f"transfer {name}")
        metrics[name] = finetune_summary(result)
    info = {"target": {"train": len(x), "test": len(test_x)}}
    write_json(out_dir / METRICS, metrics)
    write_json(out_dir / INFO, info)
    log.info("transfer: %s (%s)", metrics, info)
