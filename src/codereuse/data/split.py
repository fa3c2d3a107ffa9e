"""Split harvested functions by source file (seeded, 80/10/10) and remove near-duplicates.

Splitting by file keeps a module's helpers, overloads and copy-pasted siblings on one side. The
files are assigned once per harvest and seed, balancing every kind of function a task uses (see
:func:`codereuse.data.tasks.balance_keys`: documented functions for summarize/search, short ones
for clone/defect, each package for classify, test methods with assertions for assert), so every
task built from that harvest gets its share of usable functions in every split, and no file is in
one task's train split and another's test split.

Deduplication then walks train, valid, test in that order and drops every function whose
near-duplicate key was already seen, so nothing in valid is in train and nothing in test is in
either (and no split holds two copies of one function). What it drops is counted
(:func:`recording`), so the dataset card can say how many copies were removed.
"""
from __future__ import annotations

import contextlib
import contextvars
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np

from .tasks import balance_keys
from .types import SPLITS

FRACTIONS = (0.8, 0.1, 0.1)
VERSION = 2  # part of every embedded task's cache key: bump when assignments change
IMPROVEMENT_PASSES = 20


def assign_files(units: Mapping[str, Mapping[str, float]], rng: random.Random,
                 weights: Mapping[str, float] | None = None) -> dict[str, str]:
    """Map each file to a split so that every kind of unit comes out near 80/10/10.

    ``units[file][kind]`` counts the units of each kind a file holds (``weights[kind]``, default 1,
    says how much that kind's balance matters). The assignment minimises the weighted sum over
    kinds and splits of the squared *relative* error ``((got - target) / target) ** 2``: a greedy
    pass over the files in seeded random order, then single-file moves while any lowers it. Being
    relative, the error of a 10% split counts as much as that of the 80% one, so a huge file goes
    to train rather than swamping test. With three or more files, every split gets at least one
    (the cheapest file to move fills an empty split, and no move empties one).
    """
    files = sorted(units)
    rng.shuffle(files)
    kinds = sorted({kind for counts in units.values() for kind in counts})
    counts = np.array([[units[f].get(k, 0) for k in kinds] for f in files], dtype=float).reshape(len(files), len(kinds))
    targets = np.outer(FRACTIONS, counts.sum(axis=0))  # (splits, kinds)
    present = targets > 0
    scale = np.where(present, np.array([(weights or {}).get(k, 1.0) for k in kinds]) / np.where(present, targets, 1) ** 2, 0)
    filled = np.zeros_like(targets)
    side = np.zeros(len(files), dtype=int)

    def change(split: int, row: np.ndarray, sign: int) -> float:
        """Cost change of adding (sign 1) or removing (sign -1) ``row`` to/from ``split``."""
        return float(scale[split] @ (row * row + 2 * sign * row * (filled[split] - targets[split])))

    def move(i: int, split: int) -> None:
        filled[side[i]] -= counts[i]
        filled[split] += counts[i]
        side[i] = split

    def movable(i: int) -> bool:  # leaves its split a file, when there are enough files for that
        return len(files) < len(SPLITS) or np.count_nonzero(side == side[i]) > 1

    for i, row in enumerate(counts):
        side[i] = min(range(len(SPLITS)), key=lambda s: change(s, row, 1))
        filled[side[i]] += row
    for split in range(len(SPLITS) if len(files) >= len(SPLITS) else 0):
        if not np.any(side == split):
            move(min((i for i in range(len(files)) if movable(i)),
                     key=lambda i: change(side[i], counts[i], -1) + change(split, counts[i], 1)), split)
    for _ in range(IMPROVEMENT_PASSES):
        moved = False
        for i, row in enumerate(counts):
            if not movable(i):
                continue
            here = side[i]
            best = min((s for s in range(len(SPLITS)) if s != here), key=lambda s: change(s, row, 1))
            if change(here, row, -1) + change(best, row, 1) < -1e-9:
                move(i, best)
                moved = True
        if not moved:
            break
    return {f: SPLITS[s] for f, s in zip(files, side)}


def file_units(population: list[dict]) -> tuple[dict[str, Counter], dict[str, float]]:
    """Per file, how many functions of each :func:`balance_keys` kind it holds; and the kinds'
    weights: 1 per kind, except that the ``package:*`` kinds share a weight of 1 by their size
    (otherwise a source with forty packages would balance little but its packages)."""
    units: dict[str, Counter] = defaultdict(Counter)
    for function in population:
        units[function["file"]].update(balance_keys(function))
    totals = Counter()
    for counts in units.values():
        totals.update(counts)
    packaged = sum(n for kind, n in totals.items() if kind.startswith("package:"))
    weights = {kind: n / packaged if kind.startswith("package:") else 1.0 for kind, n in totals.items()}
    return units, weights


def split_functions(
    functions: list[dict],
    seed: int,
    *,
    population: list[dict] | None = None,
) -> dict[str, list[dict]]:
    """Split by ``function["file"]``, then deduplicate (on ``function["key"]``) within and across
    splits.

    Files are assigned by what ``population`` (default: ``functions``) holds: passing the whole
    harvest, as every builder does, gives every task built from it the same file-to-split map for
    a seed.
    """
    population = population if population is not None else functions
    units, weights = file_units(population)
    assignment = assign_files(units, random.Random(seed), weights)
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for function in functions:
        splits[assignment[function["file"]]].append(function)
    report = _recorder.get()
    if report is not None:
        report.files.update(f["file"] for f in functions)
        report.before = {split: report.before.get(split, 0) + len(rows) for split, rows in splits.items()}
    return deduplicate(splits, itemgetter("key"), report)


def undersized(counts: Mapping[str, int]) -> list[str]:
    """The splits holding under half their target share of the examples."""
    total = sum(counts.values())
    return [split for split, fraction in zip(SPLITS, FRACTIONS) if counts.get(split, 0) < 0.5 * fraction * total]


def size_warning(split: str, counts: Mapping[str, int]) -> str:
    fraction = FRACTIONS[SPLITS.index(split)]
    return (f"{split} holds {counts[split]} of {sum(counts.values())} examples, under half its {fraction:.0%} "
            f"target: scores on it are noisy")


@dataclass
class SplitReport:
    """What :func:`split_functions` did while :func:`recording`: the usable functions per file,
    per-split counts before deduplication, and the copies deduplication removed."""
    files: Counter = field(default_factory=Counter)
    before: dict[str, int] = field(default_factory=dict)
    removed: Counter = field(default_factory=Counter)  # cross_split_exact/near_duplicate, in_split_duplicate


_recorder: contextvars.ContextVar[SplitReport | None] = contextvars.ContextVar("split_report", default=None)


@contextlib.contextmanager
def recording() -> Iterator[SplitReport]:
    """Collect a :class:`SplitReport` of the splits made inside the block (a builder's ``build``)."""
    report = SplitReport()
    token = _recorder.set(report)
    try:
        yield report
    finally:
        _recorder.reset(token)


def deduplicate(splits: dict[str, list[dict]], key: Callable[[dict], str],
                report: SplitReport | None = None) -> dict[str, list[dict]]:
    """Keep the first occurrence of each key, visiting train, then valid, then test.

    Removals are counted in ``report.removed``: a copy of a function kept in an earlier split is a
    ``cross_split_exact_duplicate`` (same printed code) or ``cross_split_near_duplicate`` (same
    code up to names, literals and docstring); a second copy in the same split is an
    ``in_split_duplicate``.
    """
    first: dict[str, tuple[str, object]] = {}  # key -> (split, code) of the kept copy
    kept: dict[str, list[dict]] = {}
    for split in SPLITS:
        kept[split] = []
        for item in splits[split]:
            k = key(item)
            if k not in first:
                first[k] = (split, item.get("code"))
                kept[split].append(item)
            elif report is not None:
                kept_split, kept_code = first[k]
                kind = "in_split_duplicate" if kept_split == split else \
                    "cross_split_exact_duplicate" if kept_code == item.get("code") else "cross_split_near_duplicate"
                report.removed[kind] += 1
    return kept
