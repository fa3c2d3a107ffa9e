"""Harvest functions from a tree of Python source files with :mod:`ast`.

A function record is a plain dict (cacheable as JSON)::

    {"file": "email/utils.py", "name": "Class.method", "line": 42, "lines": 12,
     "code": <ast.unparse of the def>, "docstring": str | None, "key": <near-duplicate key>}

Functions are module-level defs and methods (of classes at any depth, async included); defs nested
inside a function are part of their enclosing function's code and are not repeated. Files that
cannot be read as UTF-8 Python, and functions of absurd size, are skipped and counted by reason.
"""
from __future__ import annotations

import ast
import hashlib
import logging
import multiprocessing
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .normalize import near_duplicate_key

log = logging.getLogger(__name__)

VERSION = 2  # bump when the records change, so cached tables are rebuilt
# Directories never walked: installed third-party code, caches, VCS metadata.
IGNORED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__", "node_modules"})
# Directory names that hold tests: excluded from the library scope, the only input of ``assert``.
TEST_DIRS = frozenset({"test", "tests", "idle_test", "testing"})
MAX_FUNCTION_CHARS = 20_000
MAX_FUNCTION_LINES = 400
FILE_REASONS = ("unreadable", "binary", "non_utf8", "syntax_error", "empty")
FUNCTION_REASON = "huge_function"
SCOPES = ("library", "tests")
# Only test methods are used from test files: other functions there are neither printed nor kept.
NAME_PREFIX = {"library": "", "tests": "test"}
# Below this many files, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 200


@dataclass
class Harvest:
    functions: list[dict]
    files: int  # files parsed successfully
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items())) or "none"
        return f"harvested {len(self.functions)} functions from {self.files} files; skipped: {reasons}"


def is_test_path(relpath: str) -> bool:
    """True for files under a test directory and for ``test_*.py`` / ``*_test.py`` / conftest."""
    *dirs, name = relpath.split("/")
    return bool(TEST_DIRS.intersection(dirs)) or name.startswith("test_") or name.endswith("_test.py") \
        or name == "conftest.py"


def source_files(root: str | Path, scope: str | None = None) -> list[str]:
    """Sorted POSIX paths (relative to ``root``) of the ``.py`` files of a scope (None: all)."""
    if scope not in (None, *SCOPES):
        raise ValueError(f"scope {scope!r} is not one of {SCOPES}")
    root = str(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS and not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in filenames:
            # isfile: broken symlinks are common in installed trees and have no content to hash
            if name.endswith(".py") and os.path.isfile(os.path.join(dirpath, name)):
                found.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    if scope is not None:
        found = [p for p in found if is_test_path(p) == (scope == "tests")]
    return sorted(found)


_fingerprints: dict[tuple, str] = {}


def fingerprint(root: str | Path) -> str:
    """Content hash of every ``.py`` file under ``root`` (paths and bytes).

    Memoised per process on (path, size, mtime) so loading several tasks hashes the tree once.
    """
    paths = source_files(root)
    stats = tuple((p, *_stat(root, p)) for p in paths)
    key = (str(Path(root).resolve()), stats)
    if key not in _fingerprints:
        digest = hashlib.sha256()
        for path in paths:
            digest.update(path.encode() + b"\0")
            try:
                digest.update(Path(root, path).read_bytes())
            except OSError:  # counted as unreadable by the harvest
                pass
            digest.update(b"\0")
        _fingerprints[key] = digest.hexdigest()
    return _fingerprints[key]


def _stat(root, path) -> tuple[int, int]:
    st = os.stat(os.path.join(root, path))
    return st.st_size, st.st_mtime_ns


def harvest(root: str | Path, paths: list[str], *, name_prefix: str = "", progress: bool = True,
            workers: int | None = None) -> Harvest:
    """Parse ``paths`` (relative to ``root``) and extract their functions, in path order.

    Only functions whose own name starts with ``name_prefix`` are kept.

    ``workers`` defaults to 2 processes for large trees (parsing is CPU-bound and the standard
    library is ~30 MB of source); pass 1 to stay in-process.
    """
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(paths) >= _PARALLEL_MIN_FILES else 1
    jobs = [(os.path.join(str(root), p), name_prefix) for p in paths]
    with tqdm(total=len(paths), desc="harvest", unit="file", disable=not progress, leave=False) as bar:
        results = _parse_all(jobs, workers, bar)
    functions, skipped, parsed = [], Counter(), 0
    for path, (records, reason, huge) in zip(paths, results):
        if reason:
            skipped[reason] += 1
            continue
        parsed += 1
        skipped[FUNCTION_REASON] += huge
        for record in records:
            record["file"] = path
        functions.extend(records)
    result = Harvest(functions, parsed, {k: v for k, v in skipped.items() if v})
    log.info("%s under %s", result.summary(), root)
    return result


def _parse_all(jobs: list[tuple[str, str]], workers: int, bar: tqdm) -> list[tuple[list[dict], str | None, int]]:
    if workers > 1:
        # spawn, not fork: the caller may be a training process with live torch threads.
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                return _collect(pool.map(_harvest_file, jobs, chunksize=16), bar)
        except BrokenProcessPool:
            log.warning("parallel harvesting failed (does the calling script lack an "
                        "`if __name__ == \"__main__\":` guard?); harvesting in one process")
            bar.reset()
    return _collect(map(_harvest_file, jobs), bar)


def _collect(outcomes: Iterator, bar: tqdm) -> list:
    results = []
    for outcome in outcomes:
        results.append(outcome)
        bar.update()
    return results


def _harvest_file(job: tuple[str, str]) -> tuple[list[dict], str | None, int]:
    """(function records, skip reason or None, number of oversized functions) for one file."""
    path, name_prefix = job
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return [], "unreadable", 0
    if b"\0" in data:
        return [], "binary", 0
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], "non_utf8", 0
    if not text.strip():
        return [], "empty", 0
    try:
        with warnings.catch_warnings():  # invalid escape sequences etc. are not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], "syntax_error", 0
    records, huge = [], 0
    for qualname, node in _functions(tree):
        if not node.name.startswith(name_prefix):
            continue
        record = _record(qualname, node)
        if record is None:
            huge += 1
        else:
            records.append(record)
    return records, None, huge


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Defs reachable without entering another def, with class-qualified names."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + child.name, child
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.stmt):  # defs under if/try/with at module or class level
            yield from _functions(child, prefix)


def _record(qualname: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict | None:
    if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
        return None
    try:
        code = ast.unparse(node)
    except RecursionError:  # pathologically nested expressions
        return None
    if len(code) > MAX_FUNCTION_CHARS or code.count("\n") + 1 > MAX_FUNCTION_LINES:
        return None
    docstring = ast.get_docstring(node)
    return {"file": "", "name": qualname, "line": node.lineno, "lines": code.count("\n") + 1,
            "code": code, "docstring": docstring,
            # computed here, in the worker processes, rather than once per task
            "key": near_duplicate_key(code, has_docstring=docstring is not None)}
