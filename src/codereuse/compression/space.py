"""The student search space (Compressor's) and exact analytic sizes and FLOPs of a BERT student.

The student is a BERT encoder with a sequence-classification head (``BertForSequenceClassification``:
pooler dense + tanh + classifier), so what is counted is exactly what is exported.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from codereuse.errors import ConfigError

TYPE_VOCAB = 1  # one segment: pairs are cross-encoded as <s> A </s> B </s> (see tokenizer.py)
# safetensors stores a JSON header beside the raw tensors; budget it so the *file* fits, not just the weights
HEADER_ALLOWANCE = 32 * 1024


@dataclass(frozen=True)
class Architecture:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"L{self.layers} H{self.hidden} A{self.heads} I{self.intermediate} V{self.vocab}"

    @classmethod
    def parse(cls, text: str) -> "Architecture":
        """The inverse of ``str``: ``"L6 H96 A4 I320 V1000"`` (any separators, genes in any order)."""
        text = str(text).upper()
        found = re.findall(r"([LHAIV])(\d+)", text)
        genes = dict(found)
        if len(found) != 5 or len(genes) != 5 or re.sub(r"[LHAIV]\d+|[\s,_-]", "", text):
            raise ConfigError("search.arch", text, hint="five genes like 'L6 H96 A4 I320 V1000' (layers, hidden, heads, FFN, vocab)")
        return cls(int(genes["L"]), int(genes["H"]), int(genes["A"]), int(genes["I"]), int(genes["V"]))


@dataclass(frozen=True)
class SearchSpace:
    """Ranges as ``[low, high, step]`` (inclusive) and the allowed head counts."""
    layers: tuple = (1, 12, 1)
    hidden: tuple = (16, 768, 16)
    heads: tuple = (1, 2, 4, 8)
    intermediate: tuple = (32, 3072, 32)
    vocab: tuple = (1000, 50000, 1000)

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "intermediate", "vocab"):
            low, high, step = getattr(self, name)
            if not (0 < low <= high and step > 0 and (high - low) % step == 0):
                raise ConfigError(f"search.space.{name}", list(getattr(self, name)),
                                  hint="[low, high, step] with high - low a multiple of step")
        if not self.heads or min(self.heads) < 1:
            raise ConfigError("search.space.heads", list(self.heads), hint="positive head counts")

    @classmethod
    def from_dict(cls, values: dict) -> "SearchSpace":
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"search.space.{unknown[0]}", values[unknown[0]], sorted(cls.__dataclass_fields__))
        return cls(**{k: tuple(v) for k, v in values.items()})

    def grid(self, name: str) -> list[int]:
        if name == "heads":
            return sorted(self.heads)
        low, high, step = getattr(self, name)
        return list(range(low, high + 1, step))

    def hidden_choices(self, heads: int) -> list[int]:
        """Hidden sizes divisible by ``heads``: the feasible parameterisation of that constraint."""
        return [h for h in self.grid("hidden") if h % heads == 0]

    def contains(self, arch: Architecture) -> bool:
        return all(getattr(arch, name) in self.grid(name) for name in ("layers", "hidden", "heads", "intermediate", "vocab"))


def parameters(arch: Architecture, max_positions: int, num_labels: int) -> int:
    """Exact parameter count of ``BertForSequenceClassification`` with this architecture."""
    h, i = arch.hidden, arch.intermediate
    embeddings = (arch.vocab + max_positions + TYPE_VOCAB) * h + 2 * h  # + LayerNorm
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h  # attention, LN, FFN, LN
    head = (h * h + h) + (h * num_labels + num_labels)  # pooler dense + classifier
    return embeddings + arch.layers * layer + head


def size_bytes(arch: Architecture, max_positions: int, num_labels: int) -> int:
    """On-disk size of the fp32 safetensors file, with the header allowance."""
    return 4 * parameters(arch, max_positions, num_labels) + HEADER_ALLOWANCE


def gflops(arch: Architecture, seq_len: int, num_labels: int = 2) -> float:
    """Forward GFLOPs at batch 1 and ``seq_len`` tokens, counting 2 FLOPs per multiply-add of every
    matrix product (as ``torch.utils.flop_counter``): projections, attention scores and mixing, FFN,
    pooler and classifier. Embedding lookups, norms and activations are not matrix products."""
    h, t = arch.hidden, seq_len
    per_layer = 2 * t * (4 * h * h) + 2 * (2 * t * t * h) + 2 * t * (2 * h * arch.intermediate)
    head = 2 * (h * h) + 2 * (h * num_labels)
    return (arch.layers * per_layer + head) / 1e9


def bert_config(arch: Architecture, max_positions: int, num_labels: int, tokenizer=None, dropout: float = 0.1):
    """The ``transformers.BertConfig`` of a student (special token ids from its tokenizer when given)."""
    from transformers import BertConfig

    special = {}
    if tokenizer is not None:
        special = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.cls_token_id,
                   "eos_token_id": tokenizer.sep_token_id}
    return BertConfig(vocab_size=arch.vocab, hidden_size=arch.hidden, num_hidden_layers=arch.layers,
                      num_attention_heads=arch.heads, intermediate_size=arch.intermediate,
                      max_position_embeddings=max_positions, type_vocab_size=TYPE_VOCAB, num_labels=num_labels,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, **special)
