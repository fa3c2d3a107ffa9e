"""Frozen-prefix caching (``freeze.cache=true``): beyond Telly, make freezing pay in wall-clock time.

The frozen bottom of an encoder (embeddings + bottom K layers, in eval mode) maps an example to the
same states in every epoch, so they are computed once per example and replayed: later epochs pay
only for the trainable top. Both passes go through the backbone's own ``forward`` (so its attention
mask handling is untouched) with the layer list temporarily cut, and, for the replay, the
embeddings swapped for a module that returns the cached states.

Applies to encoder-only backbones whose last layer's output is the model's output (BERT, RoBERTa,
CodeBERT, GraphCodeBERT, UniXcoder, MiniLM), on every task family.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from codereuse.errors import ConfigError
from codereuse.models.layers import layer_stacks


class _Replay(nn.Module):
    """Stands in for the embeddings module and returns the cached prefix states."""

    def __init__(self, states: torch.Tensor) -> None:
        super().__init__()
        self.states = states

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.states


class PrefixCache:
    def __init__(self, backbone: nn.Module, frozen_layers: int) -> None:
        stacks = layer_stacks(backbone)
        embeddings = getattr(backbone, "embeddings", None)
        if len(stacks) != 1 or embeddings is None or _has_parameters_outside(backbone, [embeddings, stacks[0]]):
            raise ConfigError("freeze.cache", True, hint=f"prefix caching needs a BERT-style encoder, not {type(backbone).__name__}")
        self.backbone, self.frozen_layers = backbone, frozen_layers
        self.stack_owner, self.stack_name = _owner(backbone, stacks[0])
        self.states: dict[tuple, torch.Tensor] = {}

    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor, keys: list[tuple]) -> torch.Tensor:
        missing = [row for row, key in enumerate(keys) if key not in self.states]
        if missing:
            self._fill(ids[missing], mask[missing], [keys[row] for row in missing])
        cached = torch.zeros(ids.shape[0], ids.shape[1], self.backbone.config.hidden_size, device=ids.device)
        for row, key in enumerate(keys):
            states = self.states[key]
            cached[row, : states.shape[0]] = states.to(ids.device)
        with self._layers(slice(self.frozen_layers, None)), self._embeddings(_Replay(cached)):
            return self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state

    @torch.no_grad()
    def _fill(self, ids: torch.Tensor, mask: torch.Tensor, keys: list[tuple]) -> None:
        with self._layers(slice(0, self.frozen_layers)):
            states = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        for row, key in enumerate(keys):  # keep only the real tokens, on the CPU
            self.states[key] = states[row, : int(mask[row].sum())].detach().to("cpu", copy=True)

    @contextlib.contextmanager
    def _layers(self, part: slice):
        full = getattr(self.stack_owner, self.stack_name)
        setattr(self.stack_owner, self.stack_name, nn.ModuleList(list(full)[part]))
        try:
            yield
        finally:
            setattr(self.stack_owner, self.stack_name, full)

    @contextlib.contextmanager
    def _embeddings(self, replacement: nn.Module):
        original = self.backbone.embeddings
        self.backbone.embeddings = replacement
        try:
            yield
        finally:
            self.backbone.embeddings = original


def _owner(root: nn.Module, target: nn.Module) -> tuple[nn.Module, str]:
    for name, module in root.named_modules():
        if module is target:
            parent, _, attribute = name.rpartition(".")
            return root.get_submodule(parent), attribute
    raise ValueError("layer stack not found in the backbone")


def _has_parameters_outside(root: nn.Module, parts: list[nn.Module]) -> bool:
    inside = {id(p) for part in parts for p in part.parameters()}
    return any(id(p) not in inside for p in root.parameters())
