"""Attention-Based Fusion Layer: every token attends to the node vectors of its own graph.

Keys and values are the node vectors of the token's own example (``to_dense_batch`` + a key
padding mask), optionally biased, per head, toward the nodes whose character span covers the
token; a per-token sigmoid gate decides how much of the attended graph context enters the
token's embedding. The unpublished-but-released fusion attended to one pooled graph vector
repeated over the sequence (uniform softmax, graph-independent output): this one is node-level.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class FusionLayer(nn.Module):
    def __init__(self, embed_dim: int, node_dim: int, heads: int, span_bias: bool) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, node_dim // heads
        self.norm = nn.LayerNorm(embed_dim)
        self.query = nn.Linear(embed_dim, node_dim)
        self.key = nn.Linear(node_dim, node_dim)
        self.value = nn.Linear(node_dim, node_dim)
        self.output = nn.Linear(node_dim, embed_dim)
        self.gate = nn.Linear(embed_dim + node_dim, 1)
        self.span_weight = nn.Parameter(torch.ones(heads)) if span_bias else None

    def forward(self, embeds: torch.Tensor, nodes: torch.Tensor, node_mask: torch.Tensor,
                covers: torch.Tensor) -> torch.Tensor:
        """The residual (B, T, H) to add to ``embeds``.

        ``nodes`` (B, N, D) with ``node_mask`` (B, N) marking real nodes; ``covers`` (B, T, N) is
        True where node n's span covers token t.
        """
        batch, length, _ = embeds.shape
        normed = self.norm(embeds)
        query = self._split(self.query(normed))                      # (B, h, T, d)
        key, value = self._split(self.key(nodes)), self._split(self.value(nodes))  # (B, h, N, d)
        scores = query @ key.transpose(-1, -2) / math.sqrt(self.head_dim)        # (B, h, T, N)
        if self.span_weight is not None:
            scores = scores + self.span_weight.view(1, -1, 1, 1) * covers.unsqueeze(1).to(scores.dtype)
        scores = scores.masked_fill(~node_mask[:, None, None, :], float("-inf"))
        # a graph without nodes attends to nothing: its all -inf rows give NaN, read as no context
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        context = (weights @ value).transpose(1, 2).reshape(batch, length, -1)  # (B, T, D)
        gate = torch.sigmoid(self.gate(torch.cat([normed, context], dim=-1)))
        return gate * self.output(context)

    def _split(self, states: torch.Tensor) -> torch.Tensor:
        batch, length, _ = states.shape
        return states.view(batch, length, self.heads, self.head_dim).transpose(1, 2)
