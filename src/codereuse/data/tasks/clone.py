"""``clone``: is ``code2`` a semantic clone of ``code1``? (BigCloneBench-style pairs; the demo task)

Every usable function ``f`` (printed with ``ast.unparse``, docstring removed) gives one positive
and one negative pair with the same ``code1 = rename(f)`` (renamed on its own), so labels are
exactly balanced and ``code1`` alone says nothing. Both kinds of ``code2`` go through the same
pipeline, ``rewrite`` = consistent renaming plus one to three structural rewrites (for/while,
guard/else, statement order, ternary/if, loop/comprehension, ...):

- ``rewrite`` (1): ``code2 = rewrite(f)``;
- ``hard_negative`` (0, at rate ``hard_negative_rate``): ``code2 = rewrite(mutate(f))`` -- differs
  from a positive only by a seeded bug (see :mod:`codereuse.data.mutate`);
- ``sibling`` (0): ``code2 = rewrite(g)`` for another function ``g``, preferably of the same file
  or package (shared attributes, imports, literals), chosen so that its token overlap with
  ``code1`` and its layout are as close as possible to the positive's, so neither overlap nor the
  layout differences between the two sides tell the pairs apart.

Functions where no structural rewrite applies are not used (a positive would be a renamed copy).
Identifiers are drawn from the training split's own vocabulary, for every side alike.

Options:
    hard_negative_rate (0.7): share of negatives that are rewritten mutants of ``f``, in [0, 1].
        Siblings are told apart by token overlap more often than not (real functions rarely share
        as many tokens as a renamed rewrite does), so they are kept the smaller share.
    mutations (3): seeded bugs per hard negative (in [1, 5]).
    min_lines (3), max_lines (40): printed length range of the functions used, so a 128-token
        window per side sees most of each.
    max_functions (4000): cap on the functions sampled after splitting; about half have a site
        for a structural rewrite and yield 2 pairs each; null uses all (~9,000 from the standard
        library), at ~2x the build time.
"""
from __future__ import annotations

import ast
import builtins
import random
from collections import Counter, defaultdict
from pathlib import PurePosixPath

import numpy as np
from tqdm.auto import tqdm

from codereuse.data.tokens import jaccard, words
from ..mutate import mutate_function
from ..normalize import code_tokens
from ..rewrite import rename_identifiers, rewrite_function
from ..split import split_functions
from ..types import SPLITS
from . import LINES, build_records, check_number, code_lines, code_only, limit

FAMILY = "pair"
SCOPE = "library"
VERSION = 5
OPTIONS = {"hard_negative_rate": 0.7, "mutations": 3, "min_lines": LINES[0], "max_lines": LINES[1],
           "max_functions": 4000}
LABEL_NAMES = ["not_clone", "clone"]
VOCABULARY_SIZE = 1000
_RESERVED = frozenset(dir(builtins)) | {"self", "cls"}


def check_options(options: dict) -> None:
    check_number(options, "hard_negative_rate", float, 0.0, 1.0)
    check_number(options, "mutations", int, 1, 5)
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

    def rewritten(node: ast.AST) -> tuple[str, list[str]] | None:
        """``rewrite(node)`` printed, or None when no structural rewrite applies."""
        new, kinds = rewrite_function(node, rng, vocabulary)
        return (ast.unparse(new), kinds) if len(kinds) > 1 else None

    with tqdm(total=sum(map(len, parsed.values())), desc="clone siblings", unit="fn", disable=not progress,
              leave=False) as bar:
        siblings = {split: _Siblings(parsed[split], rewritten, bar) for split in SPLITS}

    def make(item: tuple, split: str) -> list[dict]:
        function, node, code = item
        positive = rewritten(node)
        if positive is None:
            return []
        code1 = ast.unparse(rename_identifiers(node, rng, vocabulary))
        negative = None
        if rng.random() < options["hard_negative_rate"]:
            negative = _hard_negative(node, rng, options["mutations"], rewritten)
        if negative is None:
            negative = siblings[split].closest(function, code1, positive[0], rng)
        if negative is None:  # a split of one function has nothing to contrast it with
            return []
        common = {"code1": code1, "file": function["file"], "name": function["name"]}
        return [{**common, "code2": positive[0], "label": 1, "kind": "rewrite", "rewrites": positive[1][1:]},
                {**common, "label": 0, **negative}]

    return build_records(parsed, make, rng, desc="clone", progress=progress), LABEL_NAMES


def _hard_negative(node: ast.AST, rng: random.Random, mutations: int, rewritten) -> dict | None:
    """``rewrite(mutate(node))`` with ``mutations`` seeded bugs, or None if none could be made."""
    mutant, bugs = node, []
    for _ in range(mutations):
        result = mutate_function(mutant, rng)
        if result is None:
            break
        mutant, kind = result
        bugs.append(kind)
    text = rewritten(mutant) if bugs else None
    if text is None:
        return None
    return {"code2": text[0], "kind": "hard_negative", "mutations": bugs, "rewrites": text[1][1:]}


def identifier_vocabulary(codes, size: int = VOCABULARY_SIZE) -> list[str]:
    """The most frequent identifiers of ``codes`` (no builtins, dunders or self/cls)."""
    counts = Counter(text for code in codes for kind, text in code_tokens(code)
                     if kind == "name" and text not in _RESERVED and not text.startswith("__")
                     and 2 <= len(text) <= 20)
    return sorted(name for name, _ in counts.most_common(size))


class _Siblings:
    """Rewritten functions of one split, looked up among the functions of the same file, the same
    directory and a sample of the split by how well they pass for a given positive.

    A candidate ``g`` is scored by how far ``code1``'s token overlap with ``rewrite(g)`` is from
    its overlap with the positive, plus how far ``rewrite(g)``'s shape (lines, whitespace tokens,
    indentation, characters) is from the positive's; so the shallow signals a floor could use
    (overlap, layout of each side, their differences) look the same for both labels. Each use of
    a sibling makes it look a little farther away, so one text does not become "the negative".
    """

    # A line counts as much as two whitespace tokens, eight indentation spaces, forty characters
    # or 0.125 of Jaccard overlap.
    SCALE = np.array([1.0, 2.0, 8.0, 40.0])
    OVERLAP_WEIGHT = 8.0
    REUSE_PENALTY = 0.5
    # Beyond the file: the same directory (package), then a sample of the whole split.
    DIRECTORY_PENALTY, SPLIT_PENALTY, SAMPLE = 1.0, 2.0, 400

    def __init__(self, items: list[tuple], rewritten, bar: tqdm):
        self.names, self.texts, self.words = [], [], []
        by_file, by_dir = defaultdict(list), defaultdict(list)
        for function, node, _ in items:
            text = rewritten(node)
            bar.update()
            if text is None:
                continue
            index = len(self.texts)
            self.names.append((function["file"], function["name"]))
            self.texts.append(text[0])
            self.words.append(words(text[0]))
            by_file[function["file"]].append(index)
            by_dir[str(PurePosixPath(function["file"]).parent)].append(index)
        self.by_file, self.by_dir = by_file, by_dir
        self.shapes = np.array([_shape(t) for t in self.texts], dtype=float).reshape(-1, 4) / self.SCALE
        self.uses = np.zeros(len(self.texts))

    def _candidates(self, function: dict, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the other functions of the same file, the same directory and a sample of the
        rest of the split, with the penalty of looking beyond the file."""
        own = (function["file"], function["name"])
        directory = str(PurePosixPath(function["file"]).parent)
        same_file = [i for i in self.by_file.get(function["file"], []) if self.names[i] != own]
        same_dir = [i for i in self.by_dir.get(directory, []) if self.names[i][0] != function["file"]]
        others = rng.sample(range(len(self.texts)), min(self.SAMPLE, len(self.texts)))
        seen, pool, penalty = set(), [], []
        for group, cost in ((same_file, 0.0), (same_dir, self.DIRECTORY_PENALTY), (others, self.SPLIT_PENALTY)):
            for i in group:
                if i not in seen and self.names[i] != own:
                    seen.add(i)
                    pool.append(i)
                    penalty.append(cost)
        return np.array(pool, dtype=int), np.array(penalty)

    def closest(self, function: dict, code1: str, positive: str, rng: random.Random) -> dict | None:
        pool, penalty = self._candidates(function, rng)
        if not len(pool):
            return None
        anchor = words(code1)
        target_overlap = jaccard(anchor, words(positive))
        overlaps = np.array([jaccard(anchor, self.words[i]) for i in pool])
        distance = np.abs(self.shapes[pool] - np.array(_shape(positive)) / self.SCALE).sum(axis=1)
        distance += (self.OVERLAP_WEIGHT * np.abs(overlaps - target_overlap) + self.REUSE_PENALTY * self.uses[pool]
                     + penalty)
        best = pool[int(np.argmin(distance))]
        self.uses[best] += 1
        same_file = self.names[best][0] == function["file"]
        return {"code2": self.texts[best], "kind": "sibling", "same_file": same_file}


def _shape(code: str) -> tuple[int, int, int, int]:
    lines = code.split("\n")
    indentation = sum(len(line) - len(line.lstrip(" ")) for line in lines)
    return len(lines), len(code.split()), indentation, len(code)
