"""``classify``: which package (top-level directory) a function comes from (POJ-104 in spirit).

Functions of files directly in the source root belong to no package and are not used. The shared
file split balances every package across train/valid/test (see :mod:`codereuse.data.split`), so
a package with functions in three or more files normally has some in every split; packages left
without a function in some split are dropped (logged). The largest ``num_classes`` remaining
packages become the classes (alphabetical label order), and larger classes are sampled down --
evenly across splits -- to at most ``max_ratio`` times the smallest. Docstrings are removed.

Options:
    num_classes (16): number of packages, 2-64 (fewer if the source has fewer; logged).
    max_ratio (4.0): cap on largest/smallest class size, >= 1.
    max_functions (null): cap on the functions used after splitting.
"""
from __future__ import annotations

import logging
import random
from collections import Counter

from ..split import split_functions
from ..types import SPLITS, DataError
from . import build_records, check_number, code_only, limit, package

log = logging.getLogger(__name__)

FAMILY = "classification"
SCOPE = "library"
VERSION = 2
OPTIONS = {"num_classes": 16, "max_ratio": 4.0, "max_functions": None}


def check_options(options: dict) -> None:
    check_number(options, "num_classes", int, 2, 64)
    check_number(options, "max_ratio", float, 1.0)
    check_number(options, "max_functions", int, 1, optional=True)


def build(functions: list[dict], *, seed: int, options: dict, progress: bool):
    rng = random.Random(f"classify-{seed}")
    in_package = [f for f in functions if package(f) is not None]
    if not in_package:
        files = len({f["file"] for f in functions})
        raise DataError(f"classify labels a function by its package (top-level directory), but all {len(functions)} "
                        f"functions are in {files} files directly in data.source_dir: point it at a tree with at "
                        f"least 2 packages of 3 or more files each")
    splits = split_functions(in_package, seed, population=functions)
    counts = {split: Counter(map(package, splits[split])) for split in SPLITS}
    everywhere = [p for p in counts["train"] if all(counts[s][p] for s in SPLITS)]
    dropped = sorted(set(map(package, in_package)) - set(everywhere))
    if dropped:
        log.info("classify: dropped %d packages without functions in every split: %s",
                 len(dropped), ", ".join(_describe(p, counts, in_package) for p in dropped))
    total = Counter({p: sum(counts[s][p] for s in SPLITS) for p in everywhere})
    classes = sorted(p for p, _ in total.most_common(options["num_classes"]))
    if len(classes) < 2:
        sizes = Counter(map(package, in_package))
        described = "; ".join(_describe(p, counts, in_package) for p, _ in sizes.most_common(8))
        described += f"; and {len(sizes) - 8} smaller packages" if len(sizes) > 8 else ""
        raise DataError(f"classify needs at least 2 packages (top-level directories) with functions in every split, "
                        f"found {len(classes)}: {described}")
    if len(classes) < options["num_classes"]:
        log.warning("classify: only %d packages have functions in every split, fewer than num_classes=%d",
                    len(classes), options["num_classes"])
    cap = options["max_ratio"] * min(total[p] for p in classes)
    splits = {split: _balance(splits[split], classes, total, cap, rng) for split in SPLITS}
    splits = limit(splits, options["max_functions"], rng)
    labels = {p: i for i, p in enumerate(classes)}

    def make(function: dict, _split: str) -> list[dict]:
        parsed = code_only(function)
        if parsed is None:
            return []
        return [{"code": parsed[1], "label": labels[package(function)], "package": package(function),
                 "file": function["file"], "name": function["name"]}]

    return build_records(splits, make, rng, desc="classify", progress=progress), classes


def _describe(name: str, counts: dict[str, Counter], functions: list[dict]) -> str:
    """``"grammar (4 files, train/valid/test 180/0/6)"``: why a package is or is not a class."""
    files = len({f["file"] for f in functions if package(f) == name})
    return f"{name} ({files} files, train/valid/test {'/'.join(str(counts[s][name]) for s in SPLITS)})"


def _balance(functions: list[dict], classes: list[str], total: Counter, cap: float,
             rng: random.Random) -> list[dict]:
    """Keep the chosen classes, each sampled by the factor that brings its total down to ``cap``."""
    kept = []
    for name in classes:
        members = [f for f in functions if package(f) == name]
        keep = min(1.0, cap / total[name])
        n = max(1, round(len(members) * keep))
        kept += [members[i] for i in sorted(rng.sample(range(len(members)), n))]
    return kept
