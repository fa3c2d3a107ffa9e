"""Task heads on pooled backbone features, and the fresh decoder for encoder-only seq2seq."""
from __future__ import annotations

import torch
from torch import nn


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, T, H) states to (B, H). ``mask`` may be shorter than T when a prompt was prepended."""
    if mask.shape[1] < hidden.shape[1]:  # peft prompt tuning prepends virtual tokens
        extra = mask.new_ones(mask.shape[0], hidden.shape[1] - mask.shape[1])
        mask = torch.cat([extra, mask], dim=1)
    if how == "cls":
        return hidden[:, 0]
    if how == "last":  # right padding: the last real token
        last = mask.sum(dim=1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ClassificationHead(nn.Module):
    """dense -> tanh -> linear, as RoBERTa's sequence-classification head."""

    def __init__(self, in_features: int, hidden: int, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, num_labels)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


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


class FreshDecoder(nn.Module):
    """A randomly initialised Transformer decoder over an encoder-only backbone (CodeXGLUE-style).

    It reads and writes tokens through the backbone's word embeddings (tied output projection), so
    the freeze policy governs them and the head adds only the decoder layers and positions.
    """

    def __init__(self, embeddings: nn.Embedding, heads: int, layers: int, max_length: int, dropout: float) -> None:
        super().__init__()
        hidden = embeddings.embedding_dim
        self.embeddings = embeddings
        self.positions = nn.Embedding(max_length, hidden)
        layer = nn.TransformerDecoderLayer(hidden, heads, 4 * hidden, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(hidden))

    def forward(self, target_ids: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        length = target_ids.shape[1]
        positions = torch.arange(length, device=target_ids.device)
        states = self.embeddings(target_ids) + self.positions(positions)
        causal = nn.Transformer.generate_square_subsequent_mask(length, device=target_ids.device, dtype=states.dtype)
        states = self.layers(states, memory, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=memory_mask == 0)
        return states @ self.embeddings.weight.T

    @torch.no_grad()
    def greedy(self, memory: torch.Tensor, memory_mask: torch.Tensor, bos: int, eos: int, max_new_tokens: int) -> torch.Tensor:
        batch = memory.shape[0]
        tokens = torch.full((batch, 1), bos, dtype=torch.long, device=memory.device)
        done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
        for _ in range(min(max_new_tokens, self.positions.num_embeddings - 1)):
            next_token = self(tokens, memory, memory_mask)[:, -1].argmax(dim=-1)
            next_token = next_token.masked_fill(done, eos)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            done |= next_token == eos
            if done.all():
                break
        return tokens[:, 1:]
