"""The contract between dataset builders/readers and everything that consumes them.

Every task, embedded or read from published files, ends up as a :class:`TaskData`: plain
JSON-serialisable records per split, plus the task family that decides which head, collator
and metrics apply (:mod:`codereuse.families`). Record fields per family (``required_fields``):

- ``classification``: ``{"code": str, "label": int, ...}``
- ``pair``:           ``{"code1": str, "code2": str, "label": int, ...}``
- ``seq2seq``:        ``{"source": str, "target": str, ...}``
- ``retrieval``:      ``{"query": str, "code": str, ...}``

Extra keys (``kind``, ``file``, ``name`` ...) are allowed and kept; consumers ignore them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codereuse.errors import CodereuseError
from codereuse.families import NAMES as FAMILIES

SPLITS = ("train", "valid", "test")


class DataError(CodereuseError, ValueError):
    """A data problem the user can fix (missing directory, wrong format); shown as one line."""


@dataclass
class TaskData:
    name: str
    family: str
    splits: dict[str, list[dict]]
    label_names: list[str] | None = None
    source: str = ""
    # what was skipped while building, e.g. {"syntax_error": 3, "non_utf8": 1, "cross_split_near_duplicate": 7}
    skipped: dict[str, int] = field(default_factory=dict)
    # one-line warnings for the dataset card, e.g. a split far under its target size
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise DataError(f"task family {self.family!r} is not one of {FAMILIES}")
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise DataError(f"task {self.name!r} has no {', '.join(missing)} split")

    @property
    def num_labels(self) -> int | None:
        return len(self.label_names) if self.label_names else None

    def counts(self) -> dict[str, int]:
        return {split: len(rows) for split, rows in self.splits.items()}
