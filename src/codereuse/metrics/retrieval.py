"""Retrieval metrics over a query x candidate score matrix whose correct answer is the diagonal."""
from __future__ import annotations

import torch


def reciprocal_ranks(scores: torch.Tensor) -> torch.Tensor:
    """1 / rank of each query's correct candidate, candidate ``i`` for query ``i`` (CodeSearchNet
    convention). Ties count against the query (a correct candidate tied with ``k`` others ranks
    ``k + 1``), so a constant scorer cannot look good."""
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"expected a square score matrix, got shape {tuple(scores.shape)}")
    correct = scores.diagonal().unsqueeze(1)
    return 1.0 / (scores >= correct).sum(dim=1).float()


def mean_reciprocal_rank(scores: torch.Tensor) -> float:
    """The mean of :func:`reciprocal_ranks` (0.0 for no queries)."""
    ranks = reciprocal_ranks(scores)
    return ranks.mean().item() if len(ranks) else 0.0
