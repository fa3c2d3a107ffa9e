"""What a strategy module is told, as checked, typed values: the task it trains for
(:class:`TaskSettings`) and its optimiser (:class:`OptimSettings`).

Both accept the plain dicts Hydra passes and checkpoints store (``from_dict``), reject an unknown
or wrong value in one ConfigError line naming its key, and give plain data back (``to_dict``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, asdict, dataclass, fields
from typing import Any

from codereuse.errors import ConfigError
from codereuse.families import TaskFamily, family


@dataclass(frozen=True, kw_only=True)
class TaskSettings:
    """The task a module is built for: its family decides the head, loss and metrics.

    Only ``family`` is required; the defaults below are the only place these values are stated
    (``conf/task/*.yaml`` may set any of them per task).
    """

    family: str  # a codereuse.families name
    name: str = ""  # the task (defect, clone, ...): the transducer reads the source language from it
    num_labels: int | None = None  # classes of a label family (null: 2)
    label_names: list[str] | None = None
    max_target_length: int = 64  # tokens a seq2seq model generates at most
    num_beams: int = 1  # beam width of seq2seq generation (1: greedy)
    dropout: float = 0.1  # of the classification head and the fresh seq2seq decoder
    head_hidden: int | None = None  # width of the classification/pair head's hidden layer (null: the backbone's)
    decoder_layers: int = 2  # layers of the fresh decoder an encoder-only backbone gets on seq2seq

    def __post_init__(self) -> None:
        family(self.family)  # a ConfigError naming task.family and the known families
        _check_int("task.num_labels", self.num_labels, minimum=2, optional=True)
        if self.label_names is not None:
            if not isinstance(self.label_names, (list, tuple)) or not all(isinstance(n, str) for n in self.label_names):
                raise ConfigError("task.label_names", self.label_names, hint="a list of class names, or null")
            if self.num_labels is not None and len(self.label_names) != self.num_labels:
                raise ConfigError("task.label_names", self.label_names, hint=f"{self.num_labels} names, one per class")
        _check_int("task.max_target_length", self.max_target_length, minimum=1)
        _check_int("task.num_beams", self.num_beams, minimum=1)
        if not _number(self.dropout) or not 0 <= self.dropout < 1:
            raise ConfigError("task.dropout", self.dropout, hint="a probability in [0, 1)")
        _check_int("task.head_hidden", self.head_hidden, minimum=1, optional=True)
        _check_int("task.decoder_layers", self.decoder_layers, minimum=1)
        if not isinstance(self.name, str):
            raise ConfigError("task.name", self.name, hint="a task name")

    @property
    def task_family(self) -> TaskFamily:
        return family(self.family)

    @property
    def num_classes(self) -> int | None:
        """Classes the head predicts: ``num_labels`` (2 when unset) for a label family, else None."""
        if not self.task_family.predicts_labels:
            return None
        return self.num_labels or 2

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TaskSettings:
        """From a mapping (Hydra's, a checkpoint's ``hparams.task``): an unknown key names itself."""
        return cls(**_known(cls, values, "task"))

    @classmethod
    def of(cls, task: TaskSettings | Mapping[str, Any]) -> TaskSettings:
        """``task`` itself, or built from a mapping."""
        return task if isinstance(task, cls) else cls.from_dict(task)

    @classmethod
    def for_task(cls, data, task_cfg: Mapping[str, Any]) -> TaskSettings:
        """The settings of a built task (``TaskData``: name, family, labels) under its ``conf/task``
        node: each setting the node has, the defaults above for the rest."""
        configured = {f.name: task_cfg[f.name] for f in fields(cls)
                      if f.name not in ("family", "name", "num_labels", "label_names") and f.name in task_cfg}
        return cls(name=data.name, family=data.family, num_labels=data.num_labels, label_names=data.label_names, **configured)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class OptimSettings:
    """AdamW with a linear warmup then linear decay to zero over the run (``strategy.optim``).

    ``lr``, ``weight_decay`` and ``warmup_ratio`` have no defaults here: every
    ``conf/strategy/*.yaml`` states them (and ``distill.optim`` in conf/compress.yaml), so the file a
    user reads is the one that decides.
    """

    lr: float
    weight_decay: float
    warmup_ratio: float  # share of the run's optimiser steps spent warming up from 0 to lr
    # the task head's own learning rate (null: ``lr``); an adapter and the head it feeds often want
    # different step sizes, and a comparison can then hold the head's fixed across arms
    head_lr: float | None = None
    key: InitVar[str] = "strategy.optim"  # where the values come from, for error messages

    def __post_init__(self, key: str) -> None:
        if not _number(self.lr) or self.lr <= 0:
            raise ConfigError(f"{key}.lr", self.lr, hint="a positive learning rate")
        if not _number(self.weight_decay) or self.weight_decay < 0:
            raise ConfigError(f"{key}.weight_decay", self.weight_decay, hint="a weight decay >= 0")
        if not _number(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"{key}.warmup_ratio", self.warmup_ratio, hint="a share of the steps in [0, 1)")
        if self.head_lr is not None and (not _number(self.head_lr) or self.head_lr <= 0):
            raise ConfigError(f"{key}.head_lr", self.head_lr, hint="a positive learning rate, or null for optim.lr")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], key: str = "strategy.optim") -> OptimSettings:
        """From a mapping; an unknown or missing key names itself (``strategy.optim.lr``)."""
        known = _known(cls, values, key)
        missing = [f.name for f in fields(cls) if f.name not in known and f.name != "head_lr"]
        if missing:
            raise ConfigError(f"{key}.{missing[0]}", None, hint=f"missing: {key} needs lr, weight_decay and warmup_ratio")
        return cls(**known, key=key)

    @classmethod
    def of(cls, optim: OptimSettings | Mapping[str, Any], key: str = "strategy.optim") -> OptimSettings:
        return optim if isinstance(optim, cls) else cls.from_dict(optim, key)

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self, parameter_groups: list[dict], total_steps: int):
        """``(optimizer, scheduler)``: AdamW over ``parameter_groups`` (a group's own ``lr`` wins)
        and the linear warmup/decay schedule over ``total_steps`` (stepped once per optimiser step)."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        optimizer = torch.optim.AdamW(parameter_groups, lr=self.lr, weight_decay=self.weight_decay)
        total = max(int(total_steps), 1)
        return optimizer, get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)


def _known(cls, values: Mapping[str, Any], key: str) -> dict:
    if not isinstance(values, Mapping):
        raise ConfigError(key, values, hint="a mapping of settings")
    allowed = sorted(f.name for f in fields(cls))  # init-only values (OptimSettings.key) are not settings
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", values[unknown[0]], allowed)
    return dict(values)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(key: str, value: object, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(key, value, hint=f"an integer >= {minimum}" + (", or null" if optional else ""))
