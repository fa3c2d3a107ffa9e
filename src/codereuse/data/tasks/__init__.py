"""Embedded task builders, one module per task, sharing the helpers below.

Every builder module exposes:

- ``FAMILY``  -- the :data:`codereuse.data.types.FAMILIES` entry its records follow;
- ``SCOPE``   -- which harvest it reads: ``"library"`` (tests excluded) or ``"tests"``;
- ``VERSION`` -- bumped whenever its output changes, so stale cache entries are not reused;
- ``OPTIONS`` -- the allowed option keys with their defaults (documented in its docstring);
- ``check_options(options)`` -- raises a one-line DataError for a bad value (called before any
  harvesting, so a typo fails at once);
- ``build(functions, *, seed, options, progress) -> (splits, label_names)`` -- ``functions`` are
  harvest records (see :mod:`codereuse.data.harvest`), ``options`` is ``OPTIONS`` updated with the
  caller's values; ``splits`` maps train/valid/test to records;
- or, instead of ``build``, ``DERIVED_FROM`` (another task's name) and ``derive(base_task)``, for a
  task that re-shapes another task's records.
"""
from __future__ import annotations

import ast
import random
import warnings
from collections.abc import Callable, Iterable

from tqdm.auto import tqdm

from ..harvest import is_test_path
from ..normalize import first_sentence, strip_docstring
from ..types import SPLITS, DataError

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
LINES = (3, 40)  # default printed-length range (docstring excluded) of the clone and defect functions
MIN_WORDS = 3  # default shortest docstring summary of summarize and search


def package(function: dict) -> str | None:
    """The top-level directory of a function's file (classify's label); None for a top-level file."""
    head, sep, _ = function["file"].partition("/")
    return head if sep else None


def summary(function: dict, min_words: int = MIN_WORDS) -> str | None:
    """The first sentence of the docstring (summarize's target), if it has ``min_words`` words."""
    if not function["docstring"]:
        return None
    sentence = first_sentence(function["docstring"])
    return sentence if len(sentence.split()) >= min_words else None


def asserts(function: dict) -> bool:
    """A test method that may hold an assertion (the ``assert`` task's candidates)."""
    return function["name"].rsplit(".", 1)[-1].startswith("test") and "assert" in function["code"]


def balance_keys(function: dict) -> list[str]:
    """What the builders may use a harvested function for, under their default options: the file
    split (:mod:`codereuse.data.split`) balances the count of each key across train/valid/test."""
    if is_test_path(function["file"]):  # the tests harvest: only ``assert`` reads it
        return ["function", "asserts"] if asserts(function) else ["function"]
    keys = ["function"]
    if LINES[0] <= code_lines(function) <= LINES[1]:
        keys.append("short")
    if summary(function) is not None:
        keys.append("documented")
    if package(function) is not None:
        keys.append(f"package:{package(function)}")
    return keys


def parse_function(code: str) -> FunctionNode:
    """The def of a harvested record's code (printed by ``ast.unparse``, so it always parses)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code).body[0]


def code_only(function: dict, lines: tuple[int, int] | None = None) -> tuple[FunctionNode, str] | None:
    """``(def without docstring, its printed code)``; None if nothing but the docstring was
    there, or if the printed code is outside ``lines`` = (min, max) lines."""
    node = parse_function(function["code"])
    if not strip_docstring(node):
        return None
    code = ast.unparse(node)
    if lines is not None and not lines[0] <= code.count("\n") + 1 <= lines[1]:
        return None
    return node, code


def code_lines(function: dict) -> int:
    """About the printed line count of a record without its docstring (cheap: no parsing)."""
    doc = function["docstring"]
    return function["lines"] - (doc.count("\n") + 1 if doc is not None else 0)


def limit(splits: dict[str, list], max_functions: int | None, rng: random.Random) -> dict[str, list]:
    """Sample each split down by the same factor so the total is at most ``max_functions``."""
    total = sum(len(items) for items in splits.values())
    if max_functions is None or total <= max_functions:
        return splits
    keep = max_functions / total
    out = {}
    for split, items in splits.items():
        chosen = rng.sample(range(len(items)), min(len(items), max(1, round(len(items) * keep))))
        out[split] = [items[i] for i in sorted(chosen)]
    return out


def build_records(
    splits: dict[str, list[dict]],
    make: Callable[[dict, str], Iterable[dict]],
    rng: random.Random,
    *,
    desc: str,
    progress: bool,
) -> dict[str, list[dict]]:
    """Apply ``make(function, split)`` to every function and shuffle each split's records.

    Shuffling matters for pairs of records made from one function (clean + mutant, positive +
    negative): kept adjacent, every batch would contain both.
    """
    total = sum(len(items) for items in splits.values())
    out = {}
    with tqdm(total=total, desc=desc, unit="fn", disable=not progress, leave=False) as bar:
        for split in SPLITS:
            records = []
            for function in splits[split]:
                records.extend(make(function, split))
                bar.update()
            rng.shuffle(records)
            out[split] = records
    return out


def check_number(options: dict, key: str, kind: type, low: float, high: float | None = None,
                 optional: bool = False) -> None:
    """Reject an option value of the wrong type or outside ``[low, high]`` with one clear line."""
    value = options[key]
    if value is None and optional:
        return
    allowed_types = (int, float) if kind is float else (int,)
    ok_type = isinstance(value, allowed_types) and not isinstance(value, bool)
    if not ok_type or value < low or (high is not None and value > high):
        allowed = f"{kind.__name__} in [{low}, {high if high is not None else 'inf'}]"
        raise DataError(f"option {key}={value!r} is invalid; allowed: {allowed}" + (" or null" if optional else ""))
