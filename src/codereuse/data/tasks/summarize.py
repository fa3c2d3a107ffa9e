"""``summarize``: function code, docstring removed -> first sentence of its docstring.

CodeSearchNet-style. Functions whose docstring's first sentence has fewer than ``min_words``
words ("Foo.", "Return x.") and functions whose body is nothing but a docstring are skipped.
``search`` ranks the same pairs the other way round.

Options:
    min_words (3): shortest first sentence kept, in whitespace-separated words.
    max_functions (null): cap on the functions used after splitting.
"""
from __future__ import annotations

import random

from ..split import split_functions
from . import MIN_WORDS, build_records, check_number, code_only, limit, summary

FAMILY = "seq2seq"
SCOPE = "library"
VERSION = 2
OPTIONS = {"min_words": MIN_WORDS, "max_functions": None}


def check_options(options: dict) -> None:
    check_number(options, "min_words", int, 1)
    check_number(options, "max_functions", int, 1, optional=True)


def build(functions: list[dict], *, seed: int, options: dict, progress: bool):
    rng = random.Random(f"summarize-{seed}")
    summaries = {id(f): s for f in functions if (s := summary(f, options["min_words"])) is not None}
    candidates = [f for f in functions if id(f) in summaries]
    splits = limit(split_functions(candidates, seed, population=functions), options["max_functions"], rng)

    def make(function: dict, _split: str) -> list[dict]:
        parsed = code_only(function)
        if parsed is None:
            return []
        return [{"source": parsed[1], "target": summaries[id(function)],
                 "file": function["file"], "name": function["name"]}]

    return build_records(splits, make, rng, desc="summarize", progress=progress), None
