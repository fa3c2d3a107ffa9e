"""Freeze policies (Telly): which parts of a backbone train.

``none`` trains everything; ``embeddings`` freezes the embeddings; ``all`` freezes the whole
backbone (head only); ``top`` with ``layers=N`` trains only the top N layers of every stack
(Telly-(L-N)); ``bottom`` with ``layers=K`` freezes the embeddings and the bottom K layers.
Parameters above the stacks (final layer norms) train unless the policy is ``all``.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.state_store import CacheBudget
from codereuse.models.layers import embedding_modules, layer_stacks

MODES = ("none", "embeddings", "all", "top", "bottom")


@dataclass
class FreezePolicy:
    mode: str = "none"
    layers: int = 0
    # reuse the frozen prefix's outputs across epochs (methods/prefix_cache.py)
    cache: bool = False
    # where the cached states go: memory up to a budget, then disk (methods/state_store.py)
    cache_memory_gb: float = CacheBudget.memory_gb
    cache_disk_dtype: str = CacheBudget.disk_dtype
    cache_dir: str | None = CacheBudget.dir
    name: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError("freeze.mode", self.mode, MODES)
        if self.mode in ("top", "bottom") and self.layers < 0:
            raise ConfigError("freeze.layers", self.layers, "an integer >= 0")
        self.cache_budget = CacheBudget(self.cache_memory_gb, self.cache_disk_dtype, self.cache_dir)

    def apply(self, backbone: nn.Module) -> list[nn.Module]:
        """Set ``requires_grad`` on ``backbone``; return the frozen modules (to keep in eval mode)."""
        stacks = layer_stacks(backbone)
        depth = max((len(s) for s in stacks), default=0)
        if self.mode in ("top", "bottom") and self.layers > depth:
            raise ConfigError("freeze", self.name or f"{self.mode}{self.layers}", f"{self.mode}0..{self.mode}{depth}",
                              f"the backbone has {depth} layers")
        for parameter in backbone.parameters():
            parameter.requires_grad = self.mode != "all"
        if self.mode == "all":
            return [backbone]
        if self.mode == "none":
            return []
        frozen = embedding_modules(backbone)
        for stack in stacks:
            if self.mode == "top":
                frozen.extend(stack[: max(len(stack) - self.layers, 0)])
            elif self.mode == "bottom":
                frozen.extend(stack[: self.layers])
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad = False
        return frozen


    def frozen_prefix_depth(self, depth: int) -> int:
        """How many bottom layers are frozen (with the embeddings) - what a prefix cache can replay."""
        if self.mode == "none":
            raise ConfigError("freeze.cache", True, hint="freeze=none freezes nothing to cache")
        return {"embeddings": 0, "all": depth, "top": depth - self.layers, "bottom": self.layers}[self.mode]


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, total), counting shared (tied) parameters once."""
    seen: dict[int, nn.Parameter] = {id(p): p for p in module.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return trainable, total
