"""Stage `streams`: joint / bone / motion streams, each linear-probed, and their score ensemble.

For each stream of `evaluate.streams.streams`:
- joint: the pretrained encoder passed in (the `pretrain` stage's output);
- any other stream: the selected method (`method`, its `methods.<id>` block with
  `optim.epochs = evaluate.streams.epochs`) pretrained in-process with `skelssl.train.pretrain`
  on the training clips transformed to that stream (`skelssl.evaluation.streams.to_stream`).
  The `motion` array handed to pretraining is recomputed from the transformed clips
  (`motion_magnitude` of the stream's own input); the motion-aware masks of Skeleton2vec and
  MAMP compute their priors from the (augmented) batch itself, so each stream's masks follow
  that stream's own motion. Module init uses the global RNG seeded from
  (seed, "init", method, stream), the loop seed is derive_seed(seed, "stream", stream), and the
  caller's global RNG state is restored afterwards.
Every stream's encoder is then linear-probed (`evaluation.linear`, generator key "linear", the
evaluate stage's) on its own stream of the train/test split; the ensemble sums the probes'
softmax probabilities.

Baseline: the random-init encoder of the evaluate stage (`random_backbone`, seed key
"random_init") is linear-probed the same way on every stream, and its probes are ensembled too.
It is one encoder for all streams (the streams share the backbone spec): the joint checkpoint's
spec when "joint" is among the streams, otherwise the spec the pretrain stage would store for
`methods.<method>.backbone` (`backbone_spec`, the data's layout and frame count).

Writes `metrics.json`: {"<stream>": top1, ..., "ensemble": top1, "random_init": {"<stream>": top1,
..., "ensemble": top1}} (last-epoch probe accuracies, percent, rounded to 2 decimals). Stream
encoders are not saved.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint, backbone_spec, random_backbone
from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import ParamsError
from skelssl.evaluation.features import extract_features, topk_accuracy
from skelssl.evaluation.linear import ProbeResult, linear_probe
from skelssl.evaluation.streams import ensemble, motion_magnitude, to_stream
from skelssl.io import write_json
from skelssl.methods import build_method
from skelssl.pipeline.dataset import load_encoder_for, load_processed
from skelssl.repro import configure_torch, derive_seed, resolve_device, torch_generator
from skelssl.skeleton import Layout
from skelssl.train import pretrain

METRICS = "metrics.json"


def pretrain_stream(params: Params, x: torch.Tensor, layout: Layout, stream: str,
                    device: torch.device) -> nn.Module:
    """Pretrain `params.method` on x (already in `stream`'s representation); return its encoder."""
    cfg = params.method_params
    cfg = cfg.model_copy(update={"optim": cfg.optim.model_copy(
        update={"epochs": params.evaluate.streams.epochs})})
    seed = params.base.seed
    with torch.random.fork_rng():
        torch.manual_seed(derive_seed(seed, "init", params.method, stream))
        method = build_method(params.method, cfg, layout=layout, frames=x.shape[2])
        log.info("streams: pretraining %s on the %s stream (%d epochs)", params.method, stream,
                 cfg.optim.epochs)
        pretrain(method, x, motion_magnitude(x, layout), cfg.optim, derive_seed(seed, "stream", stream),
                 device, params.pretrain)
    return method.export_encoder()


def _probe(encoder: nn.Module, s_train: torch.Tensor, train_y: torch.Tensor, s_test: torch.Tensor,
           test_y: torch.Tensor, classes: int, params: Params, device: torch.device) -> ProbeResult:
    ev = params.evaluate
    f_train = extract_features(encoder, s_train, ev.batch_size, device)
    f_test = extract_features(encoder, s_test, ev.batch_size, device)
    return linear_probe(f_train, train_y, f_test, test_y, classes, ev.linear,
                        torch_generator(params.base.seed, "linear"))


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    claim_output_dir(out_dir, "streams", (METRICS,), inputs=(processed_dir, encoder_path))
    streams = list(dict.fromkeys(params.evaluate.streams.streams))
    if not streams:
        raise ParamsError("evaluate.streams.streams: list at least one stream")
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    layout = data.layout
    train_x, _, train_y = data.split(params.base.split, train=True)
    test_x, _, test_y = data.split(params.base.split, train=False)
    checkpoint = (load_encoder_for(encoder_path, data, str(processed_dir)) if "joint" in streams
                  else None)  # fail before pretraining
    spec = (checkpoint["backbone"] if checkpoint is not None
            else backbone_spec(params.method_params.backbone, layout, train_x.shape[2]))
    random_encoder = random_backbone(spec, derive_seed(params.base.seed, "random_init"))
    metrics: dict[str, float] = {}
    scores: dict[str, torch.Tensor] = {}
    baseline: dict[str, float] = {}
    baseline_scores: dict[str, torch.Tensor] = {}
    for stream in streams:
        s_train, s_test = to_stream(train_x, stream, layout), to_stream(test_x, stream, layout)
        if stream == "joint" and checkpoint is not None:
            trained_by = checkpoint.get("meta", {}).get("method")
            if trained_by != params.method:
                log.warning("streams: the joint encoder was pretrained by %s, the other streams use %s",
                            trained_by, params.method)
            encoder = backbone_from_checkpoint(checkpoint)
        else:
            encoder = pretrain_stream(params, s_train, layout, stream, device)
        probe = _probe(encoder, s_train, train_y, s_test, test_y, data.num_classes, params, device)
        metrics[stream] = round(probe.top1, 2)
        scores[stream] = probe.logits
        random_probe = _probe(random_encoder, s_train, train_y, s_test, test_y, data.num_classes, params,
                              device)
        baseline[stream] = round(random_probe.top1, 2)
        baseline_scores[stream] = random_probe.logits
        log.info("streams: %s linear top1 %.2f (random-init %.2f)", stream, probe.top1, random_probe.top1)
    metrics["ensemble"] = round(topk_accuracy(ensemble(scores), test_y, 1), 2)
    baseline["ensemble"] = round(topk_accuracy(ensemble(baseline_scores), test_y, 1), 2)
    written = {**metrics, "random_init": baseline}
    write_json(out_dir / METRICS, written)
    log.info("streams: %s", written)
