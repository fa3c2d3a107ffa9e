"""``strategy=transducer``: the backbone fully frozen (eval mode), a Transducer in front of it."""
from __future__ import annotations

from torch import nn

from codereuse.methods.base import ReuseModule
from codereuse.methods.task_model import TaskModel
from codereuse.methods.transducer.adapter import Transducer
from codereuse.methods.transducer.config import TransducerConfig
from codereuse.methods.transducer.data import GraphFields, task_language
from codereuse.models import Backbone


class TransducerModule(ReuseModule):
    def __init__(self, backbone: dict, task: dict, transducer: dict | None = None, freeze: dict | None = None,
                 optim: dict | None = None, seed: int = 0) -> None:
        self.settings = TransducerConfig.from_dict(transducer)
        # the backbone is always fully frozen: a freeze policy is recorded as ignored (like peft's)
        self.freeze_ignored = bool(freeze) and freeze.get("mode", "none") != "none"
        super().__init__(backbone, task, optim, seed)
        self.language = task_language(task["name"])
        # the data module's per-row hook (codereuse.cli.train.build_datamodule passes it on)
        self.row_fields = GraphFields(self.tokenizer, self.family, self.language, self.settings.max_nodes,
                                      shuffle=self.settings.shuffle_graphs)

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        backbone.model.requires_grad_(False)
        return backbone.model

    def build_input_fusion(self, model: TaskModel) -> nn.Module:
        from codereuse.graphs import EDGE_TYPES, num_node_types

        return Transducer(model.backbone.get_input_embeddings(), num_node_types(), len(EDGE_TYPES), self.settings)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.backbone.eval()  # frozen: no dropout, exactly the pre-trained function
        return self
