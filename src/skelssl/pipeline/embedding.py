"""Stage `embedding`: t-SNE map of the pretrained encoder's test features
(`skelssl.evaluation.embedding`).

Writes `embedding.csv` (x, y, label; label = the action code `A001`.., as in evaluate's
confusion.csv) for a `dvc plots` scatter, and `embedding.png` coloured by class. The subsample
is drawn with `numpy_generator(seed, "embedding")` and t-SNE's `random_state` is
`derive_seed(seed, "tsne")`, so the map is a function of (params, data, encoder).
"""

from __future__ import annotations

from pathlib import Path

from skelssl.outputs import claim_output_dir
from skelssl.backbones import backbone_from_checkpoint
from skelssl.config import Params
from skelssl.console import log
from skelssl.errors import ParamsError
from skelssl.evaluation.embedding import stratified_subsample, tsne_map, write_csv, write_png
from skelssl.evaluation.features import extract_features
from skelssl.pipeline.dataset import load_encoder_for, load_processed
from skelssl.repro import configure_torch, derive_seed, numpy_generator, resolve_device

CSV = "embedding.csv"
PNG = "embedding.png"


def run(params: Params, processed_dir: Path, encoder_path: Path, out_dir: Path) -> None:
    claim_output_dir(out_dir, "embedding", (CSV, PNG), inputs=(processed_dir, encoder_path))
    cfg, seed = params.evaluate.embedding, params.base.seed
    configure_torch(params.pretrain.threads)
    device = resolve_device(params.pretrain.device)
    data = load_processed(processed_dir)
    checkpoint = load_encoder_for(encoder_path, data, str(processed_dir))
    encoder = backbone_from_checkpoint(checkpoint)
    test_x, _, test_y = data.split(params.base.split, train=False)
    rows = stratified_subsample(test_y.numpy(), cfg.samples, numpy_generator(seed, "embedding"))
    if cfg.perplexity >= len(rows):
        raise ParamsError(f"evaluate.embedding.perplexity: {cfg.perplexity} must be smaller than the "
                          f"number of mapped test clips ({len(rows)})")
    features = extract_features(encoder, test_x[rows], params.evaluate.batch_size, device)
    coords = tsne_map(features.numpy(), cfg.perplexity, derive_seed(seed, "tsne"))
    labels = [f"A{y + 1:03d}" for y in test_y[rows].tolist()]
    write_csv(out_dir / CSV, coords, labels)
    method = checkpoint.get("meta", {}).get("method", "encoder")
    write_png(out_dir / PNG, coords, labels, f"t-SNE of {method} test features ({len(rows)} clips)")
    log.info("embedding: %d test clips mapped → %s", len(rows), out_dir / CSV)
