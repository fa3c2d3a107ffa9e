"""``python -m codereuse.data build [task=a,b] [data.source_dir=DIR] [data.dir=DIR] [data.cache_dir=DIR] [data.seed=N]``

``data.seed`` (default 0, as in ``conf/train.yaml``) is the split seed, so this fills exactly the
cache entries ``python train.py`` with the same ``data.*`` reads (``seed=`` is accepted as an alias).
Builds (or loads from the cache) the embedded tasks -- all but ``translate`` by default -- prints
their cards, and ends with one JSON line:
``{"tasks": {task: {"train": n, "valid": n, "test": n}}, "skipped_files": n, "seconds": s}``
(``seconds``: building or loading the tasks, cards excluded).
Tasks missing from the cache are built two at a time in worker processes (the machine budget is
2 cores). Bad arguments and data problems end in one line on stderr and exit code 2 -- except that
without ``task=``, a task the source cannot provide (say, ``assert`` from a package shipped
without tests) is skipped with a one-line note while the others are built.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm.auto import tqdm

from codereuse.evaluation.card import format_card
from .harvest import FILE_REASONS
from .registry import BUILDERS, EMBEDDED_TASKS, TASKS, load_task, prepare
from .types import DataError, TaskData

USAGE = ("usage: python -m codereuse.data build [task=<task>[,<task>...]] [data.source_dir=<dir>] "
         "[data.dir=<dir>] [data.cache_dir=<dir>] [data.seed=N]")
KEYS = {"task": "names", "data.source_dir": "source_dir", "data.dir": "data_dir",
        "data.cache_dir": "cache_dir", "data.seed": "seed", "seed": "seed"}  # seed: an alias of data.seed
# Longest builds first, so the two workers finish together.
BUILD_ORDER = ("assert", "clone", "defect", "summarize", "classify", "search")


class UsageError(ValueError):
    pass


def parse_args(argv: list[str]) -> dict:
    if not argv or argv[0] != "build":
        raise UsageError(f"expected the command 'build', got {argv[0]!r}" if argv else "missing the command 'build'")
    args = {"names": None, "source_dir": None, "data_dir": None, "cache_dir": None, "seed": 0}
    seed_key = "data.seed"
    for item in argv[1:]:
        key, sep, value = item.partition("=")
        if not sep or key not in KEYS:
            raise UsageError(f"unexpected argument {item!r}; allowed keys: {', '.join(KEYS)}")
        if not value:
            raise UsageError(f"{key}= needs a value")
        args[KEYS[key]] = value
        seed_key = key if KEYS[key] == "seed" else seed_key
    try:
        args["seed"] = int(args["seed"])
    except ValueError:
        raise UsageError(f"{seed_key}={args['seed']} is not an integer") from None
    args["explicit"] = args["names"] is not None
    if args["names"] is None:
        args["names"] = list(EMBEDDED_TASKS)
    else:
        args["names"] = list(dict.fromkeys(args["names"].split(",")))
        unknown = [n for n in args["names"] if n not in TASKS]
        if unknown:
            raise UsageError(f"unknown task {unknown[0]!r}; known tasks: {', '.join(TASKS)}")
    return args


def build_missing(names: list[str], *, source_dir, cache_dir, seed: int) -> dict[str, TaskData | DataError]:
    """Build the tasks not yet cached, in two worker processes when there is more than one."""
    missing = prepare(names, source_dir=source_dir, cache_dir=cache_dir, seed=seed)
    # Derived tasks are cheap once their base is cached: leave them to the final loading pass.
    independent = sorted((n for n in missing if not hasattr(BUILDERS[n], "DERIVED_FROM")),
                         key=BUILD_ORDER.index)
    workers = min(2, os.cpu_count() or 1, len(independent))
    if workers < 2:
        return {}
    kwargs = {"source_dir": source_dir, "cache_dir": cache_dir, "seed": seed, "progress": False}
    logging.getLogger(__name__).info("building %s in %d processes", ", ".join(independent), workers)
    outcomes: dict[str, TaskData | DataError] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(load_task, name, **kwargs): name for name in independent}
        for future in tqdm(as_completed(futures), total=len(futures), desc="build", unit="task", leave=False):
            try:
                outcomes[futures[future]] = future.result()
            except DataError as error:
                outcomes[futures[future]] = error
    return outcomes


def load_all(args: dict) -> dict[str, TaskData | DataError]:
    """Each requested task, or the DataError that kept it from being built."""
    common = {"source_dir": args["source_dir"], "cache_dir": args["cache_dir"], "seed": args["seed"]}
    outcomes = {} if args["data_dir"] else build_missing([n for n in args["names"] if n in BUILDERS], **common)
    for name in args["names"]:
        if name not in outcomes:
            try:
                outcomes[name] = load_task(name, data_dir=args["data_dir"], **common)
            except DataError as error:
                outcomes[name] = error
    return {name: outcomes[name] for name in args["names"]}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    try:
        args = parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    start = time.perf_counter()
    try:
        outcomes = load_all(args)
    except DataError as error:  # the source itself is unusable
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = {name: error for name, error in outcomes.items() if isinstance(error, DataError)}
    if failed and (args["explicit"] or len(failed) == len(outcomes)):
        print(f"error: {next(iter(failed.values()))}", file=sys.stderr)
        return 2
    for name, error in failed.items():
        print(f"note: skipped task {name}: {error}", file=sys.stderr)
    seconds = time.perf_counter() - start  # building or loading; the cards' baselines come after
    tasks = [task for task in outcomes.values() if not isinstance(task, DataError)]
    for task in tasks:
        print(format_card(task), end="\n\n")
    # Tasks reading the same harvest report the same skipped files: count each harvest once.
    harvests = {(task.source, tuple(sorted((k, n) for k, n in task.skipped.items() if k in FILE_REASONS)))
                for task in tasks}
    skipped_files = sum(n for _, skipped in harvests for _, n in skipped)
    print(json.dumps({"tasks": {t.name: t.counts() for t in tasks}, "skipped_files": skipped_files,
                      "seconds": round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
