"""``defect``: clean vs. seeded-bug functions (Devign-style binary classification).

Every selected function yields two records in the same split, sharing a ``pair_id``: the function
(label 0, ``kind`` "clean") and one mutant from :func:`codereuse.data.mutate.mutate_function`
(label 1, ``kind`` = the mutation). Both are parsed from the same text, docstring removed, and
printed by ``ast.unparse``, so layout never gives the label away and labels are exactly balanced.
Mutation kinds that leave a visible trace weigh more (``mutate.DEFAULT_WEIGHTS``); even so,
single-function defect detection is hard, and small models stay near chance on it.

Options:
    min_lines (3), max_lines (40): printed length range (docstring excluded) of the functions used;
        short functions keep the bug a visible fraction of the input.
    max_functions (3000): cap on the functions used after splitting (each yields 2 records);
        null uses all (~9,000 from the standard library), at ~3x the build time.
"""
from __future__ import annotations

import ast
import itertools
import random

from ..mutate import mutate_function
from ..split import split_functions
from . import LINES, build_records, check_number, code_lines, code_only, limit

FAMILY = "classification"
SCOPE = "library"
VERSION = 2
OPTIONS = {"min_lines": LINES[0], "max_lines": LINES[1], "max_functions": 3000}
LABEL_NAMES = ["clean", "defective"]


def check_options(options: dict) -> None:
    check_number(options, "min_lines", int, 1)
    check_number(options, "max_lines", int, options["min_lines"])
    check_number(options, "max_functions", int, 1, optional=True)


def build(functions: list[dict], *, seed: int, options: dict, progress: bool):
    rng = random.Random(f"defect-{seed}")
    lo, hi = options["min_lines"], options["max_lines"]
    candidates = [f for f in functions if lo <= code_lines(f) <= hi]
    splits = limit(split_functions(candidates, seed, population=functions), options["max_functions"], rng)
    pair_ids = itertools.count()

    def make(function: dict, _split: str) -> list[dict]:
        parsed = code_only(function, (lo, hi))
        if parsed is None:
            return []
        node, clean = parsed
        mutated = mutate_function(node, rng)
        if mutated is None:
            return []
        mutant, kind = mutated
        common = {"pair_id": next(pair_ids), "file": function["file"], "name": function["name"]}
        return [{"code": clean, "label": 0, "kind": "clean", **common},
                {"code": ast.unparse(mutant), "label": 1, "kind": kind, **common}]

    return build_records(splits, make, rng, desc="defect", progress=progress), LABEL_NAMES
