"""Metrics that torchmetrics does not already provide in the form code-model papers report."""
from codereuse.metrics.retrieval import mean_reciprocal_rank
from codereuse.metrics.text import exact_match, smoothed_bleu

__all__ = ["exact_match", "mean_reciprocal_rank", "smoothed_bleu"]
