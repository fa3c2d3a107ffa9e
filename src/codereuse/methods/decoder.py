"""The fresh Transformer decoder for encoder-only seq2seq, with a key/value cache for generation."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FreshDecoder(nn.Module):
    """A randomly initialised Transformer decoder over an encoder-only backbone (CodeXGLUE-style).

    It reads and writes tokens through the backbone's word embeddings (tied output projection), so
    the freeze policy governs them and the head adds only the decoder layers and positions.

    Training runs ``nn.TransformerDecoder`` over the whole target. Generation steps one token at a
    time through the same layers' weights with a key/value cache (``nn.TransformerDecoder`` has
    none): each step costs one position and one row of vocabulary logits, not the whole prefix.
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
    def generate(self, memory: torch.Tensor, memory_mask: torch.Tensor, bos: int, eos: int, max_new_tokens: int,
                 num_beams: int = 1, length_penalty: float = 1.0) -> torch.Tensor:
        """Token ids (B, L) after ``bos``, ``eos``-padded once a sequence ends; eval-mode semantics."""
        steps = min(max_new_tokens, self.positions.num_embeddings - 1)
        if num_beams == 1:
            return self.greedy(memory, memory_mask, bos, eos, steps)
        return self.beam_search(memory, memory_mask, bos, eos, steps, num_beams, length_penalty)

    def greedy(self, memory, memory_mask, bos: int, eos: int, steps: int) -> torch.Tensor:
        batch = memory.shape[0]
        cache = DecoderCache(self.layers, memory, memory_mask)
        token = torch.full((batch,), bos, dtype=torch.long, device=memory.device)
        done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
        generated = []
        for position in range(steps):
            token = self.step(token, position, cache).argmax(dim=-1).masked_fill(done, eos)
            generated.append(token)
            done |= token == eos
            if done.all():
                break
        return torch.stack(generated, dim=1) if generated else token.new_empty(batch, 0)

    def beam_search(self, memory, memory_mask, bos: int, eos: int, steps: int, beams: int,
                    length_penalty: float) -> torch.Tensor:
        """Keep the ``beams`` best prefixes by summed log-probability; a finished beam stays in the
        pool, extended by ``eos`` at no cost. The answer is the pool's best score / length**penalty."""
        batch, device = memory.shape[0], memory.device
        memory, memory_mask = memory.repeat_interleave(beams, 0), memory_mask.repeat_interleave(beams, 0)
        cache = DecoderCache(self.layers, memory, memory_mask)
        scores = torch.full((batch, beams), float("-inf"), device=device)
        scores[:, 0] = 0.0  # all beams start as the same prefix: expand only one of them
        token = torch.full((batch * beams,), bos, dtype=torch.long, device=device)
        done = torch.zeros(batch * beams, dtype=torch.bool, device=device)
        lengths = torch.zeros(batch * beams, device=device)
        history = token.new_empty(batch * beams, 0)
        for position in range(steps):
            logp = torch.log_softmax(self.step(token, position, cache).float(), dim=-1)
            vocab = logp.shape[-1]
            logp[done] = float("-inf")
            logp[done, eos] = 0.0
            candidates = (scores.reshape(-1, 1) + logp).reshape(batch, beams * vocab)
            scores, flat = candidates.topk(beams, dim=-1)
            origin = (torch.arange(batch, device=device)[:, None] * beams + flat // vocab).reshape(-1)
            token = (flat % vocab).reshape(-1)
            cache.reorder(origin)
            history = torch.cat([history[origin], token[:, None]], dim=1)
            lengths = lengths[origin] + (~done[origin]).float()
            done = done[origin] | (token == eos)
            if done.all():
                break
        final = scores.reshape(-1) / lengths.clamp(min=1.0) ** length_penalty
        best = final.reshape(batch, beams).argmax(dim=-1) + torch.arange(batch, device=device) * beams
        return history[best]

    def step(self, token: torch.Tensor, position: int, cache: "DecoderCache") -> torch.Tensor:
        """Vocabulary logits (B, V) of the next token after ``token`` at ``position``."""
        states = (self.embeddings(token) + self.positions.weight[position])[:, None]
        for index, layer in enumerate(self.layers.layers):
            states = states + cache.self_attention(index, layer.self_attn, layer.norm1(states))
            states = states + cache.cross_attention(index, layer.multihead_attn, layer.norm2(states))
            states = states + layer.linear2(layer.activation(layer.linear1(layer.norm3(states))))
        return self.layers.norm(states[:, 0]) @ self.embeddings.weight.T


class DecoderCache:
    """Per-layer keys/values: self-attention's grow by one position per step; cross-attention's are
    projected from the encoder memory once. Heads split as ``nn.MultiheadAttention`` does."""

    def __init__(self, decoder: nn.TransformerDecoder, memory: torch.Tensor, memory_mask: torch.Tensor) -> None:
        self.keys: list[torch.Tensor | None] = [None] * len(decoder.layers)
        self.values: list[torch.Tensor | None] = [None] * len(decoder.layers)
        self.memory_keys, self.memory_values = [], []
        for layer in decoder.layers:
            attention = layer.multihead_attn
            _, weight_kv = attention.in_proj_weight.split([attention.embed_dim, 2 * attention.embed_dim])
            _, bias_kv = attention.in_proj_bias.split([attention.embed_dim, 2 * attention.embed_dim])
            keys, values = F.linear(memory, weight_kv, bias_kv).chunk(2, dim=-1)
            self.memory_keys.append(_heads(keys, attention.num_heads))
            self.memory_values.append(_heads(values, attention.num_heads))
        self.memory_mask = (memory_mask != 0)[:, None, None, :]  # True = attend

    def self_attention(self, index: int, attention: nn.MultiheadAttention, states: torch.Tensor) -> torch.Tensor:
        query, key, value = F.linear(states, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
        key, value = _heads(key, attention.num_heads), _heads(value, attention.num_heads)
        if self.keys[index] is not None:
            key, value = torch.cat([self.keys[index], key], dim=2), torch.cat([self.values[index], value], dim=2)
        self.keys[index], self.values[index] = key, value
        # the newest position may attend to every cached one: causal by construction
        mixed = F.scaled_dot_product_attention(_heads(query, attention.num_heads), key, value)
        return attention.out_proj(_merge(mixed))

    def cross_attention(self, index: int, attention: nn.MultiheadAttention, states: torch.Tensor) -> torch.Tensor:
        embed = attention.embed_dim
        query = F.linear(states, attention.in_proj_weight[:embed], attention.in_proj_bias[:embed])
        mixed = F.scaled_dot_product_attention(_heads(query, attention.num_heads), self.memory_keys[index],
                                               self.memory_values[index], attn_mask=self.memory_mask)
        return attention.out_proj(_merge(mixed))

    def reorder(self, rows: torch.Tensor) -> None:
        """Follow the beams: row i of the cache becomes old row ``rows[i]``. (Beams only move within
        their example, whose memory rows are all the same, so the memory keys/values stay put.)"""
        self.keys = [k.index_select(0, rows) if k is not None else None for k in self.keys]
        self.values = [v.index_select(0, rows) if v is not None else None for v in self.values]


def _heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, hidden = states.shape
    return states.view(batch, length, heads, hidden // heads).transpose(1, 2)


def _merge(states: torch.Tensor) -> torch.Tensor:
    batch, heads, length, size = states.shape
    return states.transpose(1, 2).reshape(batch, length, heads * size)
