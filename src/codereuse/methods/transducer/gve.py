"""Graph Vectorization Engine: a batch of code property graphs -> one vector per node.

Node features are the mean of the frozen backbone's word embeddings over the tokens of the node's
text plus a learned node-type embedding (and, with ``node_states``, the mean of the token vectors
being fused over the node's span), projected to the GNN size; a torch_geometric GNN then
passes typed messages along the AST, control-flow and data-dependence edges (and their reverses,
typed separately, so information flows both ways). Everything runs on the PyG ``Batch`` of the
whole minibatch: no per-graph Python loop.

Edge types per GNN (GCN and SAGE layers take no edge features in torch_geometric):
- ``gatv2``: ``GATv2Conv(edge_dim=...)`` with a learned edge-type embedding as edge attribute;
- ``sage``:  ``SAGEConv`` in bipartite form, one "source" per edge holding ``x_src + e_type``: the
  edge-type embedding is added to every message before the mean aggregation;
- ``gcn``:   ``GCNConv`` with a learned positive weight per edge type as ``edge_weight``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATv2Conv, GCNConv, SAGEConv

from codereuse.methods.transducer.config import TransducerConfig


def node_text_means(graph, word_embeddings: nn.Embedding) -> torch.Tensor:
    """(num_nodes, H) mean word embedding of the tokens inside each node's span.

    Each graph carries its text's tokens (``token_ids``, ``num_tokens``) and, per node, the range
    of those tokens inside the node (``token_range``, local to its graph); prefix sums over the
    concatenated tokens give every node's sum in O(nodes + tokens). Nodes without a token get 0.
    """
    embeds = word_embeddings(graph.token_ids).double()  # float64 prefix sums: no cancellation error
    sums = torch.cat([embeds.new_zeros(1, embeds.shape[1]), embeds.cumsum(0)])
    first_token = graph.num_tokens.cumsum(0) - graph.num_tokens  # where each graph's tokens start
    ranges = graph.token_range + first_token[graph.batch].unsqueeze(1)
    counts = (ranges[:, 1] - ranges[:, 0]).clamp(min=0)
    means = (sums[ranges[:, 1]] - sums[ranges[:, 0]]) / counts.clamp(min=1).unsqueeze(1)
    return means.masked_fill((counts == 0).unsqueeze(1), 0.0).to(word_embeddings.weight.dtype)


class GraphVectorizationEngine(nn.Module):
    def __init__(self, embed_dim: int, num_node_types: int, num_edge_types: int, config: TransducerConfig) -> None:
        super().__init__()
        hidden, self.kind, self.num_edge_types = config.hidden, config.gnn, num_edge_types
        self.text_projection = nn.Linear(embed_dim, hidden)
        self.state_projection = nn.Linear(embed_dim, hidden) if config.node_states else None
        self.node_type = nn.Embedding(num_node_types, hidden)
        relations = 2 * num_edge_types  # each edge type and its reverse
        if self.kind == "gcn":  # softplus(w) = 1 at init: an unweighted GCN to start from
            self.edge_weight = nn.Parameter(torch.full((relations,), math.log(math.e - 1)))
        else:
            self.edge_type = nn.Embedding(relations, hidden)
        self.convs = nn.ModuleList(_conv(self.kind, hidden, config.heads) for _ in range(config.layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(config.layers))

    def forward(self, graph, word_embeddings: nn.Embedding, states: torch.Tensor | None = None) -> torch.Tensor:
        """``states``: (num_nodes, H) per-node means of the fused token vectors (``node_states``)."""
        x = self.text_projection(node_text_means(graph, word_embeddings)) + self.node_type(graph.node_type)
        if self.state_projection is not None:
            x = x + self.state_projection(states)
        edge_index, edge_type = self._with_reverse_edges(graph.edge_index, graph.edge_type)
        for conv, norm in zip(self.convs, self.norms):
            x = norm(x + F.gelu(self._message_pass(conv, x, edge_index, edge_type)))
        return x

    def _with_reverse_edges(self, edge_index: torch.Tensor, edge_type: torch.Tensor):
        return torch.cat([edge_index, edge_index.flip(0)], dim=1), torch.cat([edge_type, edge_type + self.num_edge_types])

    def _message_pass(self, conv: nn.Module, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        if self.kind == "gatv2":
            return conv(x, edge_index, edge_attr=self.edge_type(edge_type))
        if self.kind == "gcn":
            return conv(x, edge_index, edge_weight=F.softplus(self.edge_weight[edge_type]))
        source, target = edge_index
        messages = x[source] + self.edge_type(edge_type)  # one bipartite "source" per edge
        per_edge = torch.stack([torch.arange(source.numel(), device=x.device), target])
        return conv((messages, x), per_edge, size=(source.numel(), x.shape[0]))


def _conv(kind: str, hidden: int, heads: int) -> nn.Module:
    if kind == "gatv2":
        return GATv2Conv(hidden, hidden // heads, heads=heads, edge_dim=hidden)
    if kind == "gcn":
        return GCNConv(hidden, hidden)
    return SAGEConv(hidden, hidden)
