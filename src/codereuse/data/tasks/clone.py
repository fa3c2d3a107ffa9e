"""``clone``: is ``code2`` a semantic clone of ``code1``? (BigCloneBench-style pairs; the demo task)

Every selected function ``f`` (printed with ``ast.unparse``, docstring removed) is ``code1`` of one
positive and one negative pair, so labels are exactly balanced and ``code1`` alone says nothing:

- ``rewrite`` (1): ``code2 = rewrite_function(f)`` -- consistent renaming plus up to three
  semantics-preserving structural rewrites;
- ``other_function`` (0): ``code2 = rename_identifiers(g)`` for another function ``g`` of the same
  split whose renamed text is closest in lines and characters to the positive's ``code2``, so
  neither side's length or layout tells the pairs apart;
- ``hard_negative`` (0, at rate ``hard_negative_rate``): ``code2 = rename_identifiers(mutant of f)``
  -- near-identical text, different meaning.

Identifiers are drawn from the training split's own vocabulary, for positives and negatives alike.

Options:
    hard_negative_rate (0.1): share of negatives that are renamed mutants of ``f``, in [0, 1].
    min_lines (3), max_lines (40): printed length range of the functions used, so a 128-token
        window per side sees most of each.
    max_functions (2500): cap on the functions used after splitting (each yields 2 pairs);
        null uses all (~9,000 from the standard library), at ~4x the build time.
"""
from __future__ import annotations

import ast
import builtins
import random
from collections import Counter

import numpy as np
from tqdm.auto import tqdm

from ..mutate import mutate_function
from ..normalize import code_tokens
from ..rewrite import rename_identifiers, rewrite_function
from ..split import split_functions
from ..types import SPLITS
from . import build_records, check_number, code_lines, code_only, limit

FAMILY = "pair"
SCOPE = "library"
VERSION = 2
OPTIONS = {"hard_negative_rate": 0.1, "min_lines": 3, "max_lines": 40, "max_functions": 2500}
LABEL_NAMES = ["not_clone", "clone"]
VOCABULARY_SIZE = 1000
_RESERVED = frozenset(dir(builtins)) | {"self", "cls"}


def check_options(options: dict) -> None:
    check_number(options, "hard_negative_rate", float, 0.0, 1.0)
    check_number(options, "min_lines", int, 1)
    check_number(options, "max_lines", int, options["min_lines"])
    check_number(options, "max_functions", int, 1, optional=True)


def build(functions: list[dict], *, seed: int, options: dict, progress: bool):
    rng = random.Random(f"clone-{seed}")
    lines = (options["min_lines"], options["max_lines"])
    candidates = [f for f in functions if lines[0] <= code_lines(f) <= lines[1]]
    splits = limit(split_functions(candidates, seed, population=functions), options["max_functions"], rng)
    parsed = {split: [(f, *p) for f in splits[split] if (p := code_only(f, lines))] for split in SPLITS}
    vocabulary = identifier_vocabulary(code for _, _, code in parsed["train"])
    with tqdm(total=sum(map(len, parsed.values())), desc="clone decoys", unit="fn", disable=not progress,
              leave=False) as bar:
        decoys = {split: _Decoys(parsed[split], rng, vocabulary, bar) for split in SPLITS}

    def make(item: tuple, split: str) -> list[dict]:
        function, node, code = item
        rewritten, rewrites = rewrite_function(node, rng, vocabulary)
        positive = ast.unparse(rewritten)
        negative, kind = None, "hard_negative"
        if rng.random() < options["hard_negative_rate"]:
            mutated = mutate_function(node, rng)
            if mutated is not None:
                negative = ast.unparse(rename_identifiers(mutated[0], rng, vocabulary))
        if negative is None:
            negative, kind = decoys[split].closest(positive, exclude=code), "other_function"
        if negative is None:  # a split of one function has nothing to contrast it with
            return []
        common = {"code1": code, "file": function["file"], "name": function["name"]}
        return [{**common, "code2": positive, "label": 1, "kind": "rewrite", "rewrites": rewrites},
                {**common, "code2": negative, "label": 0, "kind": kind}]

    return build_records(parsed, make, rng, desc="clone", progress=progress), LABEL_NAMES


def identifier_vocabulary(codes, size: int = VOCABULARY_SIZE) -> list[str]:
    """The most frequent identifiers of ``codes`` (no builtins, dunders or self/cls)."""
    counts = Counter(text for code in codes for kind, text in code_tokens(code)
                     if kind == "name" and text not in _RESERVED and not text.startswith("__")
                     and 2 <= len(text) <= 20)
    return sorted(name for name, _ in counts.most_common(size))


class _Decoys:
    """Renamed functions of one split, found by the shape (lines, whitespace tokens, indentation,
    characters) of their renamed text.

    Renaming keeps a function's structure, so a positive's two sides agree on every layout
    statistic; a negative passes for one only if its ``code2`` has the positive's shape. Each use of
    a decoy makes it look a little farther away, so one text does not become "the negative".
    """

    # A line counts as much as two whitespace tokens, eight indentation spaces or forty characters.
    SCALE = np.array([1.0, 2.0, 8.0, 40.0])
    REUSE_PENALTY = 0.5

    def __init__(self, items: list[tuple], rng: random.Random, vocabulary: list[str], bar: tqdm):
        self.sources, self.texts = [], []
        for _, node, code in items:
            self.sources.append(code)
            self.texts.append(ast.unparse(rename_identifiers(node, rng, vocabulary)))
            bar.update()
        self.shapes = np.array([_shape(t) for t in self.texts], dtype=float).reshape(-1, 4) / self.SCALE
        self.uses = np.zeros(len(self.texts))

    def closest(self, target: str, exclude: str) -> str | None:
        """The renamed text nearest ``target``'s shape, not made from ``exclude``."""
        distance = np.abs(self.shapes - np.array(_shape(target)) / self.SCALE).sum(axis=1)
        distance += self.REUSE_PENALTY * self.uses
        for index in np.argsort(distance, kind="stable")[:2]:
            if self.sources[index] != exclude:
                self.uses[index] += 1
                return self.texts[index]
        return None


def _shape(code: str) -> tuple[int, int, int, int]:
    lines = code.split("\n")
    indentation = sum(len(line) - len(line.lstrip(" ")) for line in lines)
    return len(lines), len(code.split()), indentation, len(code)
