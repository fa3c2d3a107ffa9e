"""``strategy=graph_only``: the control for what the code property graph alone gives.

The Transducer's Graph Vectorization Engine (node features from the frozen backbone's word
embeddings, then the GNN) encodes each code input's graph; the node vectors are mean-pooled per
example and projected to the backbone's width, so the task head, loss and metrics are those every
other strategy uses (``methods.outputs``), a pair's two sides each pooled from its own graph. No
backbone layer runs. A text input without a graph (a retrieval query) is a bag of embeddings: the
mean of its tokens' frozen word embeddings through a trainable linear map. Seq2seq tasks are
refused: without the backbone there is no decoder input worth scoring. ``shuffle_graphs`` gives
every example another example's graph, as it does for the transducer.
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import global_mean_pool

from codereuse.errors import ConfigError
from codereuse.methods.settings import TaskSettings
from codereuse.methods.task_model import TaskModel
from codereuse.methods.transducer.config import TransducerConfig
from codereuse.methods.transducer.gve import GraphVectorizationEngine
from codereuse.methods.transducer.module import TransducerModule
from codereuse.models import Backbone
from codereuse.models.pooling import pool


class PooledGraphEncoder(nn.Module):
    """A batch of graphs -> one vector per graph: the mean of its GVE node vectors, at ``width``."""

    def __init__(self, embed_dim: int, width: int, num_node_types: int, num_edge_types: int,
                 config: TransducerConfig) -> None:
        super().__init__()
        self.gve = GraphVectorizationEngine(embed_dim, num_node_types, num_edge_types, config)
        self.projection = nn.Linear(config.hidden, width)

    def forward(self, graph, word_embeddings: nn.Embedding) -> torch.Tensor:
        nodes = self.gve(graph, word_embeddings)
        return self.projection(global_mean_pool(nodes, graph.batch, size=graph.num_graphs))


class BagOfEmbeddings(nn.Module):
    """Token embeddings -> one vector: their mean over the real tokens, through a linear map."""

    def __init__(self, embed_dim: int, width: int) -> None:
        super().__init__()
        self.projection = nn.Linear(embed_dim, width)

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.projection(pool(embeds, mask, "mean"))


class GraphOnlyTaskModel(TaskModel):
    """A TaskModel whose inputs never pass the backbone's layers: code by its graph, other text by a
    bag of embeddings. ``embed`` is what every output handler reads, so heads and losses stay as they are."""

    def __init__(self, backbone: nn.Module, tokenizer, spec, task: TaskSettings, config: TransducerConfig) -> None:
        from codereuse.graphs import EDGE_TYPES, num_node_types

        super().__init__(backbone, tokenizer, spec, task)
        embed_dim, width = backbone.get_input_embeddings().embedding_dim, backbone.config.hidden_size
        self.graph_encoder = PooledGraphEncoder(embed_dim, width, num_node_types(), len(EDGE_TYPES), config)
        has_text = set(self.family.inputs) - set(self.family.code_fields)
        self.text_encoder = BagOfEmbeddings(embed_dim, width) if has_text else None

    def embed(self, batch: dict, field: str) -> torch.Tensor:
        word_embeddings = self.backbone.get_input_embeddings()
        if field in self.family.code_fields:
            return self.graph_encoder(batch[f"{field}_graph"], word_embeddings)
        return self.text_encoder(word_embeddings(batch[f"{field}_ids"]), batch[f"{field}_mask"])


class GraphOnlyModule(TransducerModule):
    """The transducer's frozen backbone, graph rows and settings, with the graph as the only encoder."""

    def __init__(self, backbone: dict, task: dict, transducer: dict | None = None, freeze: dict | None = None,
                 optim: dict | None = None, seed: int = 0) -> None:
        check_graph_only(TaskSettings.of(task), TransducerConfig.from_dict(transducer))
        super().__init__(backbone, task, transducer, freeze, optim, seed)

    def build_task_model(self, backbone: nn.Module, loaded: Backbone) -> TaskModel:
        return GraphOnlyTaskModel(backbone, loaded.tokenizer, loaded.spec, self.task_settings, self.settings)

    def build_input_fusion(self, model: TaskModel) -> nn.Module | None:
        return None

    def build_output_fusion(self, model: TaskModel) -> nn.Module | None:
        return None


def check_graph_only(task: TaskSettings, config: TransducerConfig) -> None:
    if task.task_family.generates:
        raise ConfigError("strategy", "graph_only", hint=f"{task.name or task.family} is a seq2seq task: a graph-only "
                          "model has no decoder input worth scoring")
    if config.node_states:
        raise ConfigError("strategy.transducer.node_states", True, hint="graph_only reads no token states")
