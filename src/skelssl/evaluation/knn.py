"""Weighted cosine kNN classifier (Wu et al. 2018 instance-discrimination protocol).

Each test sample takes its k most cosine-similar training features; each neighbour votes for its
class with weight exp(similarity / temperature); the class with the largest total wins.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, classes: int,
                k: int, temperature: float, chunk: int = 1024) -> torch.Tensor:
    """Class scores (N_test, classes) from the temperature-weighted votes of the k nearest."""
    train_n = F.normalize(train_x.float(), dim=1)
    k = min(k, len(train_x))
    scores = []
    for i in range(0, len(test_x), chunk):
        sim = F.normalize(test_x[i:i + chunk].float(), dim=1) @ train_n.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(sim), classes)
        votes.scatter_add_(1, train_y[top_idx], (top_sim / temperature).exp())
        scores.append(votes)
    return torch.cat(scores) if scores else torch.empty(0, classes)
