"""Lexical tokens shared by the floors: sub-words (snake_case and camelCase split, acronyms kept,
so "get_file_name" meets "file name"), their sets, and the Jaccard similarity of two sets."""
from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def subwords(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def words(text: str) -> set[str]:
    return set(subwords(text))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0

