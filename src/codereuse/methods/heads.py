"""Task heads on pooled backbone features (the seq2seq decoder is in :mod:`.decoder`)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class ClassificationHead(nn.Module):
    """dense -> tanh -> linear, as RoBERTa's sequence-classification head."""

    def __init__(self, in_features: int, hidden: int, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, num_labels)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    @property
    def representation_size(self) -> int:
        return self.net[-1].in_features


@contextlib.contextmanager
def classifier_inputs(head: ClassificationHead) -> Iterator[list[torch.Tensor]]:
    """Collect, per forward, what the head's output layer reads (B, hidden): the representation the
    classifier decides from, which feature distillation matches between teacher and student."""
    seen: list[torch.Tensor] = []
    handle = head.net[-1].register_forward_hook(lambda _layer, args, _out: seen.append(args[0]))
    try:
        yield seen
    finally:
        handle.remove()


def identity_projection(hidden: int) -> nn.Linear:
    """Retrieval head: starts as the identity (zero-shot cosine retrieval), so even a fully frozen
    backbone (freeze=all) has something to train."""
    projection = nn.Linear(hidden, hidden)
    nn.init.eye_(projection.weight)
    nn.init.zeros_(projection.bias)
    return projection


def pair_features(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Symmetric-aware pair representation [u, v, |u - v|, u * v] (InferSent / SBERT)."""
    return torch.cat([first, second, (first - second).abs(), first * second], dim=-1)
