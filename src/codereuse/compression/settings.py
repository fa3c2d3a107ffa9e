"""compress.yaml's setting groups as checked, typed values: ``distill`` (:class:`DistillSettings`)
and ``search`` (:class:`~codereuse.compression.search.SearchSettings`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from omegaconf import DictConfig, OmegaConf

from codereuse.compression.search import SearchSettings
from codereuse.errors import ConfigError
from codereuse.methods.settings import OptimSettings

STDLIB = "stdlib"  # distill.extra_source_dir's name for this interpreter's standard library


def plain(node):
    """A config node as plain dicts and lists (anything else as it is)."""
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def search_settings(cfg: DictConfig) -> SearchSettings:
    """The ``search`` group under the run's ``budget_mb``; ``target_speedup`` is the pick's, not the search's."""
    return SearchSettings(budget_mb=cfg.budget_mb, **{k: v for k, v in plain(cfg.search).items() if k != "target_speedup"})


@dataclass(frozen=True, kw_only=True)
class DistillSettings:
    """The ``distill`` group. Its defaults live in conf/compress.yaml alone (every field is required
    here), so the file a user reads is the one that decides."""

    temperature: float  # KL at T, scaled by T^2
    hard_weight: float  # share of cross-entropy on the hard labels, where inputs have them
    feature_weight: float  # weight of the MSE on the teacher's classifier input (0: logits only)
    task_source: bool  # add the task source's other functions (classification tasks)
    extra_source_dir: str | None  # add the task's inputs built from this tree (STDLIB: the standard library), labels dropped
    max_train_examples: int | None  # None: every training input
    max_epochs: int  # -1: until max_steps
    max_steps: int  # -1: until max_epochs
    batch_size: int
    eval_batch_size: int
    dropout: float
    optim: OptimSettings  # the student's optimiser (a mapping is read as distill.optim)

    def __post_init__(self) -> None:
        _require("temperature", self.temperature, _number(self.temperature) and self.temperature > 0, "a positive temperature")
        _require("hard_weight", self.hard_weight, _number(self.hard_weight) and 0 <= self.hard_weight <= 1, "a weight in [0, 1]")
        _require("feature_weight", self.feature_weight, _number(self.feature_weight) and self.feature_weight >= 0,
                 "a weight >= 0 (0: logits only)")
        _require("task_source", self.task_source, isinstance(self.task_source, bool), "true or false")
        _require("extra_source_dir", self.extra_source_dir, self.extra_source_dir is None or isinstance(self.extra_source_dir, str),
                 f"a directory of code, {STDLIB} for the standard library, or null")
        _require("max_train_examples", self.max_train_examples,
                 self.max_train_examples is None or (_count(self.max_train_examples) and self.max_train_examples > 0),
                 "a positive count, or null for every training input")
        for key in ("max_epochs", "max_steps"):
            value = getattr(self, key)
            _require(key, value, _count(value) and (value > 0 or value == -1), "a positive count, or -1 for no limit")
        _require("max_epochs", self.max_epochs, self.max_epochs > 0 or self.max_steps > 0,
                 "-1 only with a positive distill.max_steps: nothing else would end training")
        for key in ("batch_size", "eval_batch_size"):
            value = getattr(self, key)
            _require(key, value, _count(value) and value > 0, "a positive batch size")
        _require("dropout", self.dropout, _number(self.dropout) and 0 <= self.dropout < 1, "a probability in [0, 1)")
        # a mapping (Hydra's, a checkpoint's) becomes OptimSettings; object.__setattr__ as the dataclass is frozen
        object.__setattr__(self, "optim", OptimSettings.of(self.optim, key="distill.optim"))

    @classmethod
    def from_dict(cls, values) -> DistillSettings:
        """From the config group (a DictConfig or a dict): an unknown or missing key names itself."""
        values = plain(values)
        if not isinstance(values, dict):
            raise ConfigError("distill", values, hint="a mapping of distillation settings")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"distill.{unknown[0]}", values[unknown[0]], known)
        missing = [k for k in known if k not in values]
        if missing:
            raise ConfigError(f"distill.{missing[0]}", None, hint="missing: conf/compress.yaml sets every distill key")
        return cls(**values)

    @classmethod
    def of(cls, settings: DistillSettings | dict) -> DistillSettings:
        """``settings`` itself, or built from a mapping."""
        return settings if isinstance(settings, cls) else cls.from_dict(settings)

    def to_dict(self) -> dict:
        """Plain data: what a checkpoint's hyperparameters and the loggers store."""
        return asdict(self)


def _require(key: str, value: object, ok: bool, hint: str) -> None:
    if not ok:
        raise ConfigError(f"distill.{key}", value, hint=hint)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
