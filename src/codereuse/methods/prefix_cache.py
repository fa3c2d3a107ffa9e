"""Frozen-prefix caching (``freeze.cache=true``): beyond Telly, make freezing pay in wall-clock time.

The frozen bottom of an encoder (embeddings + bottom K layers, in eval mode) maps an example to the
same states in every epoch, so they are computed once per example and replayed: later epochs pay
only for the trainable top. Rows carrying a ``<field>_key`` (a hash of their token ids) are cached
by it, so a function in many pairs, fields or splits is computed and stored once (:func:`state_key`).
Both passes go through the backbone's own ``forward`` (so its attention mask handling is untouched)
with the layer list temporarily cut, and, for the replay, the embeddings swapped for a module that
returns the cached states.

Applies to encoder-only backbones whose last layer's output is the model's output (BERT, RoBERTa,
CodeBERT, GraphCodeBERT, UniXcoder, MiniLM), on every task family.

The states are kept within a budget (``freeze.cache_memory_gb``, then disk: methods/state_store.py).
Before the first epoch the cache prints what the data will take, and a run whose states fit neither
the memory budget nor the free disk goes uncached.
"""
from __future__ import annotations

import contextlib
from collections.abc import Container, Hashable, Iterable

import torch
from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.state_store import GB, CacheBudget, StateStore
from codereuse.models.layers import layer_stacks


class _Replay(nn.Module):
    """Stands in for the embeddings module and returns the cached prefix states."""

    def __init__(self, states: torch.Tensor) -> None:
        super().__init__()
        self.states = states

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.states


class PrefixCache:
    """``key`` names the setting that turned caching on, in messages."""

    def __init__(self, backbone: nn.Module, frozen_layers: int, budget: CacheBudget = CacheBudget(),
                 key: str = "freeze.cache") -> None:
        stacks = layer_stacks(backbone)
        embeddings = getattr(backbone, "embeddings", None)
        if len(stacks) != 1 or embeddings is None or _has_parameters_outside(backbone, [embeddings, stacks[0]]):
            raise ConfigError(key, True, hint=f"prefix caching needs a BERT-style encoder, not {type(backbone).__name__}")
        self.backbone, self.frozen_layers, self.key = backbone, frozen_layers, key
        self.stack_owner, self.stack_name = _owner(backbone, stacks[0])
        self.states = StateStore(budget)

    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor, keys: list[Hashable]) -> torch.Tensor:
        states = self._prefix_states(ids, mask, keys)
        # assembled where the states are kept, then one copy to the model's device (not one per row)
        cached = torch.zeros(ids.shape[0], ids.shape[1], self.backbone.config.hidden_size)
        for row, state in enumerate(states):
            cached[row, : state.shape[0]] = state
        cached = cached.to(ids.device)
        with self._layers(slice(self.frozen_layers, None)), self._embeddings(_Replay(cached)):
            return self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state

    def estimate(self, sequences: int, max_length: int) -> dict:
        """What caching ``sequences`` states of up to ``max_length`` tokens takes at most (every one at
        ``max_length``), as :meth:`plan` prints it: ``{"sequences", "in_memory", "memory_gb", "disk_gb",
        "total_gb"}``, ``in_memory`` states in float32 within the memory budget, the rest on disk at the
        disk dtype; ``total_gb`` is all of them in float32."""
        budget, hidden = self.states.budget, self.backbone.config.hidden_size
        per_sequence = max(max_length * hidden * 4, 1)  # float32 in memory (at least 1: no rows, no division by 0)
        in_memory = min(sequences, int(budget.memory_gb * GB // per_sequence))
        on_disk = (sequences - in_memory) * max_length * hidden * budget.disk_bytes_per_value
        return {"sequences": sequences, "in_memory": in_memory, "memory_gb": in_memory * per_sequence / GB,
                "disk_gb": on_disk / GB, "total_gb": sequences * per_sequence / GB}

    def plan(self, sequences: int, max_length: int, run_dir: str | None = None) -> bool:
        """Print what caching ``sequences`` states of up to ``max_length`` tokens takes; False when they
        fit neither the memory budget nor the free disk (the run then goes uncached)."""
        self.states.run_dir = run_dir
        estimate = self.estimate(sequences, max_length)
        head = f"{self.key}: ~{estimate['total_gb']:.3g} GB of states for {sequences} sequences"
        memory = f"freeze.cache_memory_gb={self.states.budget.memory_gb:g}"
        if estimate["in_memory"] == sequences:
            print(f"{head} (all in memory, within {memory})")
            return True
        free = self.states.free_disk_bytes()
        if estimate["disk_gb"] * GB > free:
            print(f"{head}: they fit neither {memory} nor the {free / GB:.3g} GB free under {self.states.parent}; "
                  "running uncached")
            return False
        print(f"{head} ({estimate['in_memory']} in memory up to {memory}, the rest on disk at "
              f"{self.states.budget.disk_dtype} under {self.states.parent})")
        return True

    def fill(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor, list[Hashable]]]) -> int:
        """Compute and store the states of every key of ``batches`` (``(ids, mask, keys)`` as
        :meth:`hidden_states` takes them) that is not stored yet, once per key: the frozen-prefix work of
        a first (caching) epoch, without its training steps. Run it with the frozen modules in eval
        mode, as training runs them. Returns how many states were computed."""
        computed = 0
        for ids, mask, keys in batches:
            computed += len(self._compute_missing(ids, mask, keys, stored=self.states))
        return computed

    def _prefix_states(self, ids: torch.Tensor, mask: torch.Tensor, keys: list[Hashable]) -> list[torch.Tensor]:
        """Each row's prefix states: stored ones read back, the others computed and stored once per
        key (rows of a batch with one key, e.g. a function on both sides of a pair, share one pass)."""
        found = {key: self.states.get(key) for key in dict.fromkeys(keys)}
        stored = {key for key, state in found.items() if state is not None}
        found.update(self._compute_missing(ids, mask, keys, stored))
        return [found[key] for key in keys]

    def _compute_missing(self, ids: torch.Tensor, mask: torch.Tensor, keys: list[Hashable],
                         stored: Container[Hashable]) -> dict[Hashable, torch.Tensor]:
        """The states of the keys not in ``stored``, computed from each one's first row and stored."""
        first_rows = {}
        for row, key in enumerate(keys):
            if key not in stored:
                first_rows.setdefault(key, row)
        if not first_rows:
            return {}
        rows = list(first_rows.values())
        computed = dict(zip(first_rows, self._compute(ids[rows], mask[rows])))
        for key, state in computed.items():
            self.states.put(key, state)
        return computed

    @torch.no_grad()
    def _compute(self, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        with self._layers(slice(0, self.frozen_layers)):
            states = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        # only the real tokens, on the CPU: one device-to-host copy and one sync per batch, a clone per row
        # so that no stored state keeps the whole batch alive
        lengths, on_cpu = mask.sum(dim=1).tolist(), states.detach().to("cpu")
        return [on_cpu[row, :length].clone() for row, length in enumerate(lengths)]

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


def state_key(split: str, field: str, index: int, sequence: str | None = None) -> Hashable:
    """What a row's states are stored under. The states depend on the token ids alone, so a row with a
    ``sequence`` key (the hash of its ids, ``data.functions.sequence_key``) shares them with every row,
    field and split holding the same ids: one state per unique function of a pair task, and two texts
    truncated to the same ids rightly one. Without it, the row's own (split, field, index)."""
    return sequence if sequence is not None else (split, field, index)


def distinct_sequences(encoded: dict[str, list[dict]], fields: tuple[str, ...]) -> dict[Hashable, list[int]]:
    """The token ids of each distinct state of ``encoded`` (split -> data-module rows) in ``fields``,
    by :func:`state_key`, in first-seen order: what a cache of those rows stores, one entry each."""
    return {state_key(split, field, index, row.get(f"{field}_key")): row[f"{field}_ids"]
            for split, rows in encoded.items() for index, row in enumerate(rows) for field in fields}


def plan_for_fit(cache: PrefixCache | None, trainer, fields: tuple[str, ...]) -> PrefixCache | None:
    """``cache`` once it has printed its plan for the trainer's data module (its encoded rows give the
    count of distinct states and the longest sequence of every input field); None, to run uncached,
    where nothing fits."""
    encoded = getattr(getattr(trainer, "datamodule", None), "encoded", None)
    if cache is None or not encoded:
        return cache
    lengths = [len(ids) for ids in distinct_sequences(encoded, fields).values()]
    return cache if cache.plan(len(lengths), max(lengths, default=0), trainer.default_root_dir) else None
