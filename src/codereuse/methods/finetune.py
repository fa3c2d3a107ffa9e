"""Fine-tuning under a freeze policy (full fine-tuning, Telly's top-N, bottom-K, head only)."""
from __future__ import annotations

from torch import nn

from codereuse.methods.base import ReuseModule
from codereuse.errors import ConfigError
from codereuse.methods.freeze import FreezePolicy
from codereuse.methods.prefix_cache import PrefixCache, plan_for_fit
from codereuse.models.layers import num_layers
from codereuse.models import Backbone


class FineTuneModule(ReuseModule):
    def __init__(self, backbone: dict, task: dict, freeze: dict | None = None, optim: dict | None = None, seed: int = 0) -> None:
        self.policy = FreezePolicy(**(freeze or {}))
        self.prefix_cache: PrefixCache | None = None
        super().__init__(backbone, task, optim, seed, freeze)
        self.model.prefix_cache = self.prefix_cache

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        self.frozen_modules = self.policy.apply(backbone.model)
        if backbone.spec.architecture == "encoder-decoder" and not self.family.generates:
            # only the encoder is used off seq2seq tasks: an unused decoder must not count as trainable
            for parameter in backbone.model.get_decoder().parameters():
                parameter.requires_grad = False
        if self.policy.cache:
            if backbone.spec.architecture != "encoder":
                raise ConfigError("freeze.cache", True, hint=f"prefix caching needs an encoder-only backbone; {backbone.spec.name} is {backbone.spec.architecture}")
            depth = self.policy.frozen_prefix_depth(num_layers(backbone.model))
            self.prefix_cache = PrefixCache(backbone.model, depth, self.policy.cache_budget)
        return backbone.model

    def on_fit_start(self) -> None:
        self.prefix_cache = self.model.prefix_cache = plan_for_fit(self.prefix_cache, self.trainer, self.family.inputs)

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self.frozen_modules:  # frozen layers run as at inference (no dropout)
            module.eval()
        return self
