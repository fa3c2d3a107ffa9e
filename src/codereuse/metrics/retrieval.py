"""Retrieval metrics over a query x candidate score matrix whose correct answer is the diagonal."""
from __future__ import annotations

import torch


def mean_reciprocal_rank(scores: torch.Tensor) -> float:
    """MRR when query ``i``'s correct candidate is candidate ``i`` (CodeSearchNet convention).

    Ties count against the query (a correct candidate tied with ``k`` others ranks ``k + 1``), so a
    constant scorer cannot look good.
    """
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"expected a square score matrix, got shape {tuple(scores.shape)}")
    if scores.shape[0] == 0:
        return 0.0
    correct = scores.diagonal().unsqueeze(1)
    ranks = (scores >= correct).sum(dim=1).float()
    return (1.0 / ranks).mean().item()
