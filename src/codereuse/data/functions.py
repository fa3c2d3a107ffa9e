"""Unique functions of a task's records, so per-text work happens once per function.

Pair tasks draw many rows from few functions (CodeXGLUE BigCloneBench: 901,028 training pairs of
9,134 functions). A :class:`FunctionTable` holds each distinct text once, in first-seen order;
rows refer to it by id, and work keyed by those ids (tokenisation, graphs) is done once per text.
"""
from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable


class FunctionTable:
    """Distinct texts in first-seen order; a text's id is its position in ``texts``."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.texts: list[str] = []
        self._ids: dict[str, int] = {}
        for text in texts:
            self.add(text)

    def add(self, text: str) -> int:
        """The id of ``text``, added at the end when new."""
        if text not in self._ids:
            self._ids[text] = len(self.texts)
            self.texts.append(text)
        return self._ids[text]

    def __len__(self) -> int:
        return len(self.texts)

    def ids(self, texts: Iterable[str]) -> list[int]:
        """The id of each of ``texts`` (all in the table)."""
        return [self._ids[text] for text in texts]


def sequence_key(token_ids: list[int]) -> str:
    """A content key of a token sequence: equal ids, equal key, whatever text or field they came from.
    Keyed by ids, not text: what is computed from a sequence depends on its ids alone, and a text's
    ids depend on its field's truncation limit (two texts cut to the same ids may share one result)."""
    return hashlib.blake2b(array("q", token_ids).tobytes(), digest_size=16).hexdigest()
