"""Split harvested functions by source file (seeded 80/10/10) and remove near-duplicates.

Splitting by file keeps a module's helpers, overloads and copy-pasted siblings on one side.
Deduplication then walks train, valid, test in that order and drops every function whose
near-duplicate key was already seen, so nothing in valid is in train and nothing in test is in
either (and no split holds two copies of one function).
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from operator import itemgetter

from .types import SPLITS

FRACTIONS = (0.8, 0.1, 0.1)


def assign_files(counts: dict[str, int], rng: random.Random) -> dict[str, str]:
    """Map each file to a split so that the *items* (not files) come out near 80/10/10.

    Files are taken in seeded random order, each going to the split that is least full relative
    to its target once the file is added (so a huge file goes to train rather than swamping test).
    With three or more files, every split gets at least one.
    """
    files = sorted(counts)
    rng.shuffle(files)
    total = sum(counts.values()) or 1
    targets = {split: fraction * total for split, fraction in zip(SPLITS, FRACTIONS)}
    filled = dict.fromkeys(SPLITS, 0)
    assignment = {}
    for name in files:
        split = min(SPLITS, key=lambda s: (filled[s] + counts[name]) / targets[s])
        assignment[name] = split
        filled[split] += counts[name]
    if len(files) >= 3:
        _fill_empty_splits(assignment, counts, targets)
    return assignment


def _fill_empty_splits(assignment: dict[str, str], counts: dict[str, int], targets: dict[str, float]) -> None:
    """Give each empty split the file, from the split with most files, nearest its target size."""
    for split in SPLITS:
        if split in assignment.values():
            continue
        members = Counter(assignment.values())
        donor = max(members, key=members.__getitem__)
        chosen = min((f for f, s in assignment.items() if s == donor),
                     key=lambda f: (abs(counts[f] - targets[split]), f))
        assignment[chosen] = split


def split_functions(
    functions: list[dict],
    seed: int,
    *,
    population: list[dict] | None = None,
    stratum: Callable[[dict], str] | None = None,
) -> dict[str, list[dict]]:
    """Split by ``function["file"]``, then deduplicate (on ``function["key"]``) within and across
    splits.

    Files are assigned by their share of ``population`` (default: ``functions``): passing the whole
    harvest gives every task built from it the same file-to-split map for a seed, so no file is
    in one task's train split and another's test split. ``stratum`` (e.g. the package of a file)
    instead splits each group's files separately, so every group with three or more files
    appears in every split.
    """
    rng = random.Random(seed)
    groups: dict[str, Counter] = defaultdict(Counter)
    for function in population if population is not None else functions:
        groups[stratum(function) if stratum else ""][function["file"]] += 1
    assignment = {}
    for group in sorted(groups):
        assignment.update(assign_files(groups[group], rng))
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for function in functions:
        splits[assignment[function["file"]]].append(function)
    return deduplicate(splits, itemgetter("key"))


def deduplicate(splits: dict[str, list[dict]], key: Callable[[dict], str]) -> dict[str, list[dict]]:
    """Keep the first occurrence of each key, visiting train, then valid, then test."""
    seen: set[str] = set()
    kept: dict[str, list[dict]] = {}
    for split in SPLITS:
        kept[split] = []
        for item in splits[split]:
            k = key(item)
            if k not in seen:
                seen.add(k)
                kept[split].append(item)
    return kept
