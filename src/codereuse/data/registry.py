"""``load_task``: the one entry point from a task name to a :class:`TaskData`.

Published benchmark files (``data_dir``) go through :mod:`codereuse.data.readers`. Otherwise the
task is built from real Python source (``source_dir``, default: this interpreter's standard
library) and cached: the harvested function table is keyed by the source's content hash and scope
and shared by all tasks; each built task is keyed by that hash, its builder version, seed and
options.
"""
from __future__ import annotations

import dataclasses
import os
import sysconfig
from pathlib import Path
from types import ModuleType

from . import harvest, split
from .cache import Cache, cache_key
from .readers import CODEXGLUE_TRANS_URL, read_task
from .tasks import assert_, classify, clone, defect, search, summarize
from .types import DataError, TaskData

TASKS: tuple[str, ...] = ("defect", "clone", "classify", "summarize", "search", "assert", "translate")
TASK_FAMILIES: dict[str, str] = {
    "defect": "classification", "clone": "pair", "classify": "classification",
    "summarize": "seq2seq", "search": "retrieval", "assert": "seq2seq", "translate": "seq2seq",
}
BUILDERS: dict[str, ModuleType] = {
    "defect": defect, "clone": clone, "classify": classify,
    "summarize": summarize, "search": search, "assert": assert_,
}
EMBEDDED_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t in BUILDERS)


@dataclasses.dataclass
class _Plan:
    """Everything that identifies one embedded build."""
    name: str
    builder: ModuleType
    root: Path
    default_source: bool
    cache: Cache
    fingerprint: str
    seed: int
    options: dict

    @property
    def key(self) -> str:
        return cache_key(self.fingerprint, self.name, self.builder.VERSION, split.VERSION, self.seed, self.options)


def load_task(name: str, *, source_dir: str | None = None, data_dir: str | None = None,
              cache_dir: str | None = None, seed: int = 0, options: dict | None = None,
              progress: bool = True) -> TaskData:
    """Load ``name`` from published files (``data_dir``) or build it from Python source.

    ``seed`` is the split seed (``data.seed``): it picks the train/valid/test files and is part of
    the cache key; training randomness has its own seed. ``options`` are the builder's knobs (see each ``codereuse.data.tasks`` module); they only
    apply to embedded tasks, but their keys are checked either way.
    """
    if name not in TASKS:
        raise DataError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    resolved = resolve_options(name, options)
    if data_dir is not None:
        return read_task(name, data_dir)
    plan = _plan(name, source_dir, cache_dir, seed, resolved)
    cached = plan.cache.load("task", plan.key)
    if cached is not None:
        return TaskData(**cached)
    if hasattr(plan.builder, "DERIVED_FROM"):
        base = load_task(plan.builder.DERIVED_FROM, source_dir=source_dir, cache_dir=cache_dir, seed=seed,
                         options=options, progress=progress)
        splits, label_names = plan.builder.derive(base)
        source, skipped = base.source, base.skipped
    else:
        table = _harvested(plan, progress)
        with split.recording() as report:
            splits, label_names = plan.builder.build(table.functions, seed=seed, options=resolved, progress=progress)
        source, skipped = _describe_source(plan, table), {**table.skipped, **report.removed}
        _check_split_sizes(plan, table, splits, report)
    counts = {s: len(rows) for s, rows in splits.items()}
    notes = [split.size_warning(s, counts) for s in split.undersized(counts)]
    task = TaskData(name, plan.builder.FAMILY, splits, label_names, source=source, skipped=skipped, notes=notes)
    plan.cache.save("task", plan.key, dataclasses.asdict(task))
    return task


def source_functions(name: str, *, source_dir: str | None = None, cache_dir: str | None = None,
                     progress: bool = True) -> list[dict]:
    """The harvested functions an embedded task is built from (its builder's scope of ``source_dir``,
    default the standard library), from the cache the build uses: the pool its inputs were drawn from."""
    builder = BUILDERS.get(name)
    if builder is None:
        raise DataError(f"task {name} is not built from Python source; embedded tasks: {', '.join(EMBEDDED_TASKS)}")
    name = getattr(builder, "DERIVED_FROM", name)
    return _harvested(_plan(name, source_dir, cache_dir, 0, resolve_options(name, None)), progress).functions


def prepare(names: list[str], *, source_dir: str | None = None, cache_dir: str | None = None,
            seed: int = 0, progress: bool = True) -> list[str]:
    """Harvest into the cache what building ``names`` (default options) needs; return the names
    that are not cached yet. Lets a caller then build those in separate processes."""
    missing = []
    for name in names:
        plan = _plan(name, source_dir, cache_dir, seed, resolve_options(name, None))
        if plan.cache.contains("task", plan.key):
            continue
        missing.append(name)
        if not hasattr(plan.builder, "DERIVED_FROM") and not plan.cache.contains("harvest", _harvest_key(plan)):
            _harvested(plan, progress)
    return missing


def resolve_options(name: str, options: dict | None) -> dict:
    """The builder's defaults updated with ``options``; unknown keys and bad values are a DataError."""
    allowed = BUILDERS[name].OPTIONS if name in BUILDERS else {}
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DataError(f"unknown option {unknown[0]!r} for task {name}; allowed: {', '.join(allowed) or 'none'}")
    resolved = {**allowed, **options}
    if name in BUILDERS:
        BUILDERS[name].check_options(resolved)
    return resolved


def _plan(name: str, source_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> _Plan:
    if name == "translate":
        raise DataError(f"task translate has no embedded default: pass data.dir=<CodeXGLUE code-to-code-trans "
                        f"data dir> ({CODEXGLUE_TRANS_URL})")
    if source_dir is None:
        root = Path(sysconfig.get_paths()["stdlib"])
    else:
        root = Path(os.path.expanduser(source_dir))
        if not root.is_dir():
            raise DataError(f"data.source_dir={source_dir} is not a directory")
    return _Plan(name, BUILDERS[name], root, source_dir is None, Cache(cache_dir),
                 harvest.fingerprint(root), seed, options)


def _harvested(plan: _Plan, progress: bool) -> harvest.Harvest:
    """The function table of the builder's scope, from the cache when possible."""
    scope, key = plan.builder.SCOPE, _harvest_key(plan)
    cached = plan.cache.load("harvest", key)
    if cached is not None:
        return harvest.Harvest(**cached)
    table = harvest.harvest(plan.root, harvest.source_files(plan.root, scope),
                            name_prefix=harvest.NAME_PREFIX[scope], progress=progress)
    plan.cache.save("harvest", key, dataclasses.asdict(table))
    return table


def _check_split_sizes(plan: _Plan, table: harvest.Harvest, splits: dict[str, list[dict]],
                       report: split.SplitReport) -> None:
    """A one-line DataError, with the counts and the cause, for an empty split or a train split
    under half its target size (valid or test that small only earn a warning on the card)."""
    counts = {s: len(rows) for s, rows in splits.items()}
    bad = [s for s in counts if not counts[s]] or [s for s in split.undersized(counts) if s == "train"]
    if not bad:
        return
    what = "test files (test/, tests/, test_*.py)" if plan.builder.SCOPE == "tests" else "non-test files"
    got = "/".join(str(n) for n in counts.values())
    problem = f"no {'/'.join(bad)} examples" if not counts[bad[0]] else "train holds under half its 80% target"
    head = f"task {plan.name}: no examples" if not any(counts.values()) else \
        f"task {plan.name}: {problem} (train/valid/test {got})"
    usable, files = sum(report.files.values()), len(report.files)
    if not table.files and not table.skipped:
        cause = f"{plan.root} has no {what}"
    elif not table.functions:
        cause = f"the {what} of {plan.root} hold no functions ({table.files} files parsed, skipped: {table.skipped})"
    elif files <= 5:
        sizes = ", ".join(str(n) for _, n in report.files.most_common())
        cause = (f"{usable} of the {len(table.functions)} functions of the {what} of {plan.root} are usable for "
                 f"{plan.name}, in {files} file(s) holding {sizes}; a file's functions stay in one split, so the "
                 f"splits cannot be balanced: use a source with more such files")
    else:
        before = "/".join(str(report.before.get(s, 0)) for s in counts)
        cause = (f"{usable} of the {len(table.functions)} functions of the {what} of {plan.root} are usable for "
                 f"{plan.name}, in {files} files, split {before} (train/valid/test); "
                 f"{sum(report.removed.values())} duplicates were removed and the rest yielded no records")
    raise DataError(f"{head}: {cause}")


def _harvest_key(plan: _Plan) -> str:
    return cache_key(plan.fingerprint, plan.builder.SCOPE, harvest.VERSION)


def _describe_source(plan: _Plan, table: harvest.Harvest) -> str:
    what = "Python standard library" if plan.default_source else "source tree"
    files = "test files only" if plan.builder.SCOPE == "tests" else "tests excluded"
    return f"{what} {plan.root} ({files}; {table.files} files parsed, sha256 {plan.fingerprint[:12]})"
