"""t-SNE map of frozen test features: a class-stratified subsample, 2-D coordinates, a PNG.

Choices of ours (no paper protocol is followed): the subsample keeps every class's share of the
test set (largest-remainder rounding of `samples · n_c / N`; all clips when `samples >= N`), drawn
with a numpy generator; t-SNE is scikit-learn's (Barnes-Hut, PCA initialisation, its default 1000
iterations) on the raw float64 features with a fixed `random_state` (with PCA initialisation the map hardly depends on it); the figure is drawn with
matplotlib's Agg canvas (no pyplot global state), one colour per class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skelssl.io import atomic_file


def stratified_subsample(labels: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about `samples` clips (exactly min(samples, N)) keeping class shares."""
    labels = np.asarray(labels)
    n = len(labels)
    if samples >= n:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    quota = samples * counts / n
    take = np.floor(quota).astype(np.int64)
    rest = samples - int(take.sum())
    order = np.lexsort((classes, -(quota - take)))  # largest remainder first, ties by class
    take[order[:rest]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False)
              for c, t in zip(classes, take) if t > 0]
    return np.sort(np.concatenate(chosen))


def tsne_map(features: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """(n, D) features → (n, 2) float64 t-SNE coordinates; perplexity must be < n."""
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float64)
    if perplexity >= len(features):
        raise ValueError(f"perplexity {perplexity} must be smaller than the number of points "
                         f"({len(features)})")
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed % 2**32)
    return tsne.fit_transform(features).astype(np.float64)


def write_csv(path: Path, coords: np.ndarray, labels: list[str]) -> None:
    """`x,y,label` rows (a `dvc plots` scatter)."""
    table = pl.DataFrame({"x": np.round(coords[:, 0], 4), "y": np.round(coords[:, 1], 4),
                          "label": labels})
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="") as handle:  # polars would expand `~`
            table.write_csv(handle)


def write_png(path: Path, coords: np.ndarray, labels: list[str], title: str) -> None:
    """Scatter plot coloured by class; a legend when there are at most 30 classes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib import colormaps

    names = sorted(set(labels))
    cmap = colormaps["tab20" if len(names) <= 20 else "turbo"]
    fig = Figure(figsize=(7.5, 6.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lab = np.asarray(labels)
    for i, name in enumerate(names):
        pts = coords[lab == name]
        colour = cmap(i) if len(names) <= 20 else cmap(i / max(1, len(names) - 1))
        ax.scatter(pts[:, 0], pts[:, 1], s=10, color=colour, label=name)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(names) <= 30:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=1.5,
                  ncols=1 if len(names) <= 15 else 2, frameon=False)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
