"""Settings shared by the CLI and the training callback: the probe set and the drift options.

Kept free of torch/transformers imports so the CLI can reject bad arguments in well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from codereuse.errors import ConfigError

POSITIVE_INTS = ("max_functions", "tokens_per_function", "max_length", "batch_size")
RSA_METHODS = ("spearman", "pearson")
SPLITS = ("train", "valid", "test")
REWRITE_PAIRS = 150  # clone_pairs=None with the built rewrite pairs: this many
CLONE_FORMAT = "data.jsonl ({idx, func}) plus train.txt/valid.txt/test.txt (idx1<TAB>idx2<TAB>label)"


@dataclass
class ProbeConfig:
    max_functions: int = 400  # probe functions (train + held-out); drift uses up to this many held-out ones
    # positive clone pairs for the semantic probe; None: 150 built rewrite pairs, or every clone
    # pair of the ``clones`` split
    clone_pairs: int | None = None
    tokens_per_function: int = 12  # subword tokens sampled per function for the token probes
    max_length: int = 128  # the clone task's functions have 3-40 lines: most fit
    batch_size: int = 16
    # mean, not the model's own pooling: a first-token (cls) pool is the same vector for every
    # input at the embeddings output, which leaves nothing to probe or compare there
    pooling: str = "mean"
    seed: int = 42  # sampling of the probe functions, tokens and pairs
    # the clone task's split seed (train.py's data.seed) and source: drift and probes of a checkpoint
    # take both from the run that wrote it, so their held-out functions are ones it never trained on
    data_seed: int = 0
    source_dir: str | None = None  # default: the standard library
    cache_dir: str | None = None
    # the semantic probe's retrieval set: the clone pairs (label 1) of split ``clones_split`` of a
    # published pair dataset (``data.dir`` format, e.g. ../shared/data/leetcode-clones), each
    # function ranking all the others; None: the clone task's test rewrite pairs (code1 ranks code2)
    clones: str | None = None
    clones_split: str = "test"

    def __post_init__(self) -> None:
        for key in POSITIVE_INTS + ("clone_pairs",):
            value = getattr(self, key)
            if value is None and key == "clone_pairs":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(key, value, "an integer >= 1" + (" or null" if key == "clone_pairs" else ""))
        if self.clones is not None and (not isinstance(self.clones, (str, Path)) or not Path(self.clones).is_dir()):
            raise ConfigError("clones", self.clones,
                              hint=f"no such directory; expected a clone pair dataset: {CLONE_FORMAT}")
        if self.clones_split not in SPLITS:
            raise ConfigError("clones_split", self.clones_split, SPLITS)
        for key in ("seed", "data_seed"):
            if not isinstance(getattr(self, key), int) or isinstance(getattr(self, key), bool):
                raise ConfigError(key, getattr(self, key), "an integer")
        from codereuse.models.spec import POOLINGS  # here, not above: codereuse.models loads transformers

        if self.pooling not in POOLINGS:
            raise ConfigError("pooling", self.pooling, POOLINGS)

    @classmethod
    def keys(cls) -> list[str]:
        return [field.name for field in fields(cls)]


def check_drift_options(threshold: float, rsa_method: str, prefix: str = "") -> None:
    """Reject a bad drift threshold or RSA method before any feature is extracted."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ConfigError(f"{prefix}threshold", threshold, "a number in (0, 1)")
    if rsa_method not in RSA_METHODS:
        raise ConfigError(f"{prefix}rsa", rsa_method, RSA_METHODS)
