"""The Transducer as a hook on the backbone: token vectors -> token vectors + graph residual.

As the input hook (``fuse_at=input``), ``TaskModel.input_embeddings`` calls it with the backbone's
word embeddings of a text field, and its output enters the frozen backbone as ``inputs_embeds``. As
the output hook (``fuse_at=output``), ``TaskModel.field_states`` calls it with the backbone's
last-layer token states, before pooling. Either way it builds node vectors for that field's graphs
(GVE; node features from the word embeddings of each node's whole text, beyond the token limit),
fuses them into the tokens (fusion layer) and returns vectors of the same shape.

Starting from the unmodified backbone. A zero gate (``out = e + tanh(a) * f``, a = 0) or a zero
output projection makes the residual 0 at init, but then every other parameter gets exactly zero
gradient on the first step (d out / d f = tanh(0) = 0). ``start="anchored"`` (default) instead
subtracts the residual of the *initial* weights, kept as buffers: ``out = e + f(theta) - f(theta_0)``.
It is exactly 0 at init and its gradient is the full df/dtheta, so the GNN and the attention learn
from step 1. Its cost: a second, gradient-free pass of the (small) transducer per step, and a
frozen copy of the adapter's weights in the checkpoint. ``start="gated"`` is the Flamingo-style
tanh gate, for comparison.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch_geometric.utils import to_dense_batch

from codereuse.methods.transducer.config import TransducerConfig
from codereuse.methods.transducer.fusion import FusionLayer
from codereuse.methods.transducer.gve import GraphVectorizationEngine

# token fields that read another field's graph: a decoder-only model's prompt (+ answer) is the source
GRAPH_OF_FIELD = {"lm": "source", "prompt": "source"}


class GraphResidual(nn.Module):
    """GVE + fusion: (embeds, graph batch, token offsets) -> residual."""

    def __init__(self, embed_dim: int, num_node_types: int, num_edge_types: int, config: TransducerConfig) -> None:
        super().__init__()
        self.gve = GraphVectorizationEngine(embed_dim, num_node_types, num_edge_types, config)
        self.fusion = FusionLayer(embed_dim, config.hidden, config.heads, config.span_bias)

    def forward(self, embeds: torch.Tensor, graph, offsets: torch.Tensor, word_embeddings: nn.Embedding) -> torch.Tensor:
        spans, node_mask = to_dense_batch(graph.span, graph.batch, fill_value=-1, batch_size=graph.num_graphs)
        covers = covering_nodes(offsets, spans)
        # dense (B, N, H) -> the PyG batch's node order (to_dense_batch keeps it, row by row)
        states = covered_token_means(embeds, covers)[node_mask] if self.gve.state_projection is not None else None
        nodes, _ = to_dense_batch(self.gve(graph, word_embeddings, states), graph.batch, batch_size=graph.num_graphs)
        return self.fusion(embeds, nodes, node_mask, covers)


def covering_nodes(offsets: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """(B, T, N): node n's span [start, end) holds token t's last character (special tokens,
    offsets (0, 0), and non-tokens, (-1, -1), are covered by no node)."""
    token_end = offsets[..., 1].unsqueeze(2)                        # (B, T, 1)
    start, end = spans[..., 0].unsqueeze(1), spans[..., 1].unsqueeze(1)  # (B, 1, N)
    return (token_end > start) & (token_end <= end) & (token_end > offsets[..., 0].unsqueeze(2))


def covered_token_means(embeds: torch.Tensor, covers: torch.Tensor) -> torch.Tensor:
    """(B, N, H): per node, the mean of the token vectors its span covers; 0 where it covers none."""
    weights = covers.to(embeds.dtype)                                 # (B, T, N)
    sums = weights.transpose(1, 2) @ embeds                           # (B, N, H)
    return sums / weights.sum(1).clamp(min=1).unsqueeze(-1)


class Transducer(nn.Module):
    def __init__(self, word_embeddings: nn.Embedding, num_node_types: int, num_edge_types: int,
                 config: TransducerConfig) -> None:
        super().__init__()
        # the frozen backbone's embeddings, read but not owned (not a submodule: no second copy)
        self._word_embeddings = (word_embeddings,)
        self.start = config.start
        self.residual = GraphResidual(word_embeddings.embedding_dim, num_node_types, num_edge_types, config)
        if self.start == "anchored":
            for name, value in self.residual.named_parameters():
                self.register_buffer(_anchor_name(name), value.detach().clone())
        else:
            self.alpha = nn.Parameter(torch.zeros(()))

    @property
    def word_embeddings(self) -> nn.Embedding:
        return self._word_embeddings[0]

    def forward(self, embeds: torch.Tensor, batch: dict, field: str) -> torch.Tensor:
        """``embeds``: (B, T, H) word embeddings or last-layer states of ``field``'s tokens."""
        graph_field = GRAPH_OF_FIELD.get(field, field)
        graph = batch.get(f"{graph_field}_graph")
        if graph is None:  # a field without graphs (a retrieval query) passes unchanged
            return embeds
        offsets = batch[f"{field}_offsets"]
        arguments = (embeds, graph, offsets, self.word_embeddings)
        residual = self.residual(*arguments)
        if self.start == "anchored":
            with torch.no_grad():
                initial = functional_call(self.residual, self.anchor_state(), arguments)
            residual = residual - initial
        else:
            residual = torch.tanh(self.alpha) * residual
        fused = offsets[..., 1] >= 0  # real tokens of the field's text (not padding / an answer)
        return embeds + residual * fused.unsqueeze(-1).to(embeds.dtype)

    def anchor_state(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, _anchor_name(name)) for name, _ in self.residual.named_parameters()}


def _anchor_name(parameter: str) -> str:
    return "anchor_" + parameter.replace(".", "_")
