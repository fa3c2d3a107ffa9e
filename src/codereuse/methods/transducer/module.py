"""``strategy=transducer``: the backbone fully frozen (eval mode), a Transducer in front of it
(``fuse_at=input``, into the token embeddings) or behind it (``fuse_at=output``, into its last-layer
token states before pooling; with ``cache=true`` those states are computed once per example)."""
from __future__ import annotations

from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.base import ReuseModule
from codereuse.methods.prefix_cache import PrefixCache, plan_for_fit
from codereuse.methods.settings import TaskSettings
from codereuse.methods.state_store import CacheBudget
from codereuse.methods.task_model import TaskModel
from codereuse.methods.transducer.adapter import Transducer
from codereuse.methods.transducer.config import TransducerConfig
from codereuse.methods.transducer.data import GraphFields, task_language
from codereuse.models import Backbone
from codereuse.models.layers import num_layers


class TransducerModule(ReuseModule):
    def __init__(self, backbone: dict, task: dict, transducer: dict | None = None, freeze: dict | None = None,
                 optim: dict | None = None, seed: int = 0) -> None:
        self.settings = TransducerConfig.from_dict(transducer)
        self.cache_budget = CacheBudget.of(freeze)  # freeze.cache_* bound this strategy's state cache too
        # the backbone is always fully frozen: a freeze policy is recorded as ignored (like peft's)
        self.freeze_ignored = bool(freeze) and freeze.get("mode", "none") != "none"
        task_settings = TaskSettings.of(task)  # ``task`` itself goes on, as given, to the hyperparameters
        if self.settings.fuse_at == "output" and task_settings.task_family.generates:
            raise ConfigError("strategy.transducer.fuse_at", "output", hint="seq2seq decoders read the encoder "
                              "directly; use fuse_at=input on seq2seq tasks")
        self.state_cache: PrefixCache | None = None
        super().__init__(backbone, task, optim, seed)
        self.model.prefix_cache = self.state_cache
        self.language = task_language(task_settings.name)
        # the data module's per-row hook (codereuse.training.run.build_datamodule passes it on)
        self.row_fields = GraphFields(self.tokenizer, self.family.name, self.language, self.settings.max_nodes,
                                      shuffle=self.settings.shuffle_graphs)

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        backbone.model.requires_grad_(False)
        if self.settings.cache:  # every layer is frozen: the whole stack's output is the replayed prefix
            if backbone.spec.architecture != "encoder":
                raise ConfigError("strategy.transducer.cache", True,
                                  hint=f"state caching needs an encoder-only backbone; {backbone.spec.name} is {backbone.spec.architecture}")
            self.state_cache = PrefixCache(backbone.model, num_layers(backbone.model), self.cache_budget,
                                           key="strategy.transducer.cache")
        return backbone.model

    def on_fit_start(self) -> None:
        self.state_cache = self.model.prefix_cache = plan_for_fit(self.state_cache, self.trainer, self.family.inputs)

    def build_input_fusion(self, model: TaskModel) -> nn.Module | None:
        return self._transducer(model) if self.settings.fuse_at == "input" else None

    def build_output_fusion(self, model: TaskModel) -> nn.Module | None:
        return self._transducer(model) if self.settings.fuse_at == "output" else None

    def _transducer(self, model: TaskModel) -> Transducer:
        from codereuse.graphs import EDGE_TYPES, num_node_types

        return Transducer(model.backbone.get_input_embeddings(), num_node_types(), len(EDGE_TYPES), self.settings)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.backbone.eval()  # frozen: no dropout, exactly the pre-trained function
        return self
