import numpy as np
import polars as pl
import pytest
import torch

from skelssl.errors import ParamsError
from skelssl.evaluation.embedding import stratified_subsample, tsne_map
from skelssl.pipeline import embedding as embedding_stage
from tiny_eval import tiny_encoder, tiny_params, tiny_processed

torch.set_num_threads(1)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_stratified_subsample_keeps_class_shares():
    labels = np.repeat([0, 1, 2], [60, 30, 10])  # 100 clips, shares 0.6 / 0.3 / 0.1
    rows = stratified_subsample(labels, 20, np.random.default_rng(0))
    assert len(rows) == 20 and len(set(rows.tolist())) == 20
    assert np.all(np.diff(rows) > 0)
    assert np.bincount(labels[rows]).tolist() == [12, 6, 2]
    odd = stratified_subsample(labels, 7, np.random.default_rng(0))  # quotas 4.2 / 2.1 / 0.7
    assert np.bincount(labels[odd], minlength=3).tolist() == [4, 2, 1]
    assert stratified_subsample(labels, 500, np.random.default_rng(0)).tolist() == list(range(100))
    again = stratified_subsample(labels, 20, np.random.default_rng(0))
    other = stratified_subsample(labels, 20, np.random.default_rng(1))
    assert np.array_equal(rows, again) and not np.array_equal(rows, other)


def test_tsne_is_deterministic_under_a_seed_and_separates_clusters():
    gen = np.random.default_rng(0)
    centres = gen.normal(size=(3, 10)) * 10
    labels = np.repeat([0, 1, 2], 15)
    features = centres[labels] + gen.normal(size=(45, 10))
    a = tsne_map(features, 5.0, 3)
    b = tsne_map(features, 5.0, 3)
    assert a.shape == (45, 2)
    assert np.array_equal(a, b)
    assert a.dtype == np.float64
    # every point is nearer its own cluster's centroid than any other
    centroids = np.stack([a[labels == c].mean(axis=0) for c in range(3)])
    nearest = np.linalg.norm(a[:, None] - centroids[None], axis=2).argmin(axis=1)
    assert np.array_equal(nearest, labels)
    with pytest.raises(ValueError, match="perplexity 45.0 must be smaller"):
        tsne_map(features, 45.0, 0)


def test_embedding_stage_writes_csv_and_png(tmp_path):
    params = tiny_params(embedding={"samples": 9, "perplexity": 3.0})
    tiny_processed(tmp_path / "processed")  # 12 test clips, 4 per class
    tiny_encoder(tmp_path / "encoder.pt", params)
    embedding_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "out")
    table = pl.read_csv(tmp_path / "out" / "embedding.csv")
    assert table.columns == ["x", "y", "label"]
    assert table.height == 9
    assert sorted(table["label"].value_counts()["count"].to_list()) == [3, 3, 3]
    assert set(table["label"]) == {"A001", "A002", "A003"}
    png = (tmp_path / "out" / "embedding.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    embedding_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "again")
    assert pl.read_csv(tmp_path / "again" / "embedding.csv").equals(table)


def test_embedding_stage_rejects_a_perplexity_above_the_sample_count(tmp_path):
    params = tiny_params(embedding={"samples": 9, "perplexity": 30.0})
    tiny_processed(tmp_path / "processed")
    tiny_encoder(tmp_path / "encoder.pt", params)
    with pytest.raises(ParamsError, match=r"perplexity: 30.0 must be smaller .* \(9\)"):
        embedding_stage.run(params, tmp_path / "processed", tmp_path / "encoder.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()
