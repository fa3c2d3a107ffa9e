"""The transfer set: the code the student learns the teacher's outputs on, one :class:`Source` at a
time (so the teacher's outputs are cached per source), none of the added code a near-copy of the
task's validation or test code. Each source is counted (rows kept, rows per built kind, rows left
out) for the run's metrics."""
from __future__ import annotations

import ast
import keyword
import sysconfig
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from codereuse.compression.inputs import input_fields
from codereuse.compression.settings import STDLIB, DistillSettings, plain
from codereuse.compression.teacher import Teacher
from codereuse.compression.teacher_run import teacher_data_config
from codereuse.data.normalize import near_duplicate_key, strip_docstring
from codereuse.data.registry import load_task, source_functions
from codereuse.data.tasks import code_only
from codereuse.data.types import SPLITS
from codereuse.errors import ConfigError
from codereuse.families import family

HELD_OUT = ("valid", "test")
SOFT_KEYWORDS = frozenset(keyword.softkwlist)


@dataclass(frozen=True)
class Source:
    """One part of the transfer set: its rows and how many rows it left out as near-duplicates of
    validation/test code (None: not filtered, as the task's own training rows are not)."""

    name: str
    rows: list[dict]
    left_out: int | None = None

    @property
    def kinds(self) -> dict[str, int]:
        """Rows per ``kind`` of built record (rewrite / sibling / hard_negative for built pairs); {} for
        published rows, which carry none."""
        return dict(sorted(Counter(r["kind"] for r in self.rows if "kind" in r).items()))

    def metrics(self) -> dict[str, int]:
        out = {f"transfer/{self.name}_rows": len(self.rows)}
        out.update({f"transfer/{self.name}_kind_{kind}": count for kind, count in self.kinds.items()})
        if self.left_out is not None:
            out[f"transfer/{self.name}_left_out"] = self.left_out
        return out

    def describe(self, what: str) -> str:
        """``<rows> <what> (<count> <kind>, ...; <left out>)``: the source's printed line."""
        notes = [", ".join(f"{count} {kind}" for kind, count in self.kinds.items())] if self.kinds else []
        if self.left_out is not None:
            notes.append(f"{self.left_out} left out: near-duplicates of the task's validation/test code")
        return f"{len(self.rows)} {what}" + (f" ({'; '.join(notes)})" if notes else "")


@dataclass(frozen=True)
class TransferSet:
    sources: list[Source]

    @property
    def rows(self) -> list[list[dict]]:
        """One list per source, in order."""
        return [source.rows for source in self.sources]

    def metrics(self) -> dict[str, int]:
        """``transfer/<source>_rows``, ``transfer/<source>_kind_<kind>``, ``transfer/<source>_left_out``
        and ``transfer/left_out`` (all sources)."""
        out = {key: value for source in self.sources for key, value in source.metrics().items()}
        out["transfer/left_out"] = sum(source.left_out or 0 for source in self.sources)
        return out


def transfer_set(cfg: DictConfig, settings: DistillSettings, teacher: Teacher, data) -> TransferSet:
    """The distillation inputs: ``task``, the task's training inputs (labels kept only for the optional
    hard-label mix); with ``distill.task_source``, ``task_source``, the rest of the task's own source
    (:func:`rest_of_task_source`); with ``distill.extra_source_dir``, ``extra``, every input the task's
    builder makes from that tree (for a pair task: rewrites, token-similar siblings and rewritten mutants
    of its functions), labels dropped. One line per source is printed."""
    fields = input_fields(data.family)
    records = list(data.splits["train"])
    sources = [Source("task", records[: settings.max_train_examples] if settings.max_train_examples else records)]
    print(f"distill: {sources[0].describe('task training inputs')}")
    if settings.task_source:
        rest = rest_of_task_source(cfg, teacher, data)
        kept = without_held_out(rest, data, fields)
        sources.append(Source("task_source", kept, len(rest) - len(kept)))
        print("distill: + " + sources[-1].describe("functions of the task's own source that are none of its inputs, "
                                                   "from files without validation/test inputs"))
    if settings.extra_source_dir:
        sources.append(extra_source(cfg, settings.extra_source_dir, teacher, data))
    return TransferSet(sources)


def extra_source(cfg: DictConfig, extra: str, teacher: Teacher, data) -> Source:
    """Every input (train, valid and test alike) the task's builder makes from ``extra``, each record's
    ``kind`` kept and its label dropped, less near-duplicates of the task's validation/test code."""
    task, data_cfg, split_seed = teacher_data_config(cfg, teacher)
    check_extra_source(extra, data_cfg)
    options = task.get("options") or plain(cfg.task.options)
    # the split seed, not the distillation seed: every seed distils the same unlabelled code
    built = load_task(data.name, source_dir=_source_dir(extra), cache_dir=cfg.data.cache_dir, seed=split_seed,
                      options=options)
    fields = input_fields(data.family)
    added = [_unlabelled(r, fields) for split in SPLITS for r in built.splits[split]]
    kept = without_held_out(added, data, fields)
    source = Source("extra", kept, len(added) - len(kept))
    print(f"distill: + {source.describe(f'unlabelled inputs built from {extra}')}")
    return source


def check_extra_source(extra: str | None, data_cfg: dict) -> None:
    """A one-line ConfigError where ``extra`` is, holds or lies in the tree the task itself is built
    from (an embedded task, no ``data.dir``): its built inputs would be the task's own functions,
    validation and test ones among them."""
    if not extra or data_cfg.get("dir"):
        return
    task_tree, extra_tree = _tree(data_cfg.get("source_dir")), _tree(_source_dir(extra))
    if task_tree == extra_tree or task_tree in extra_tree.parents or extra_tree in task_tree.parents:
        raise ConfigError("distill.extra_source_dir", extra, hint=f"the task is built from {task_tree}, so the transfer "
                          "set would hold its validation/test functions; use another tree or a published task (data.dir=)")


def rest_of_task_source(cfg: DictConfig, teacher: Teacher, data) -> list[dict]:
    """Unlabelled code from the distribution the task was drawn from: every function of the task's
    source tree that is none of its inputs (the classes sampled down, the packages not chosen, ...),
    docstring removed as in the inputs, from files that hold no validation or test input."""
    if family(data.family).inputs != ("code",):  # one function per input, as the task source holds
        raise ConfigError("distill.task_source", True, hint=f"{data.name} inputs are pairs the task builds; "
                          "use distill.extra_source_dir=<tree> for more of them")
    rows = [r for split in data.splits.values() for r in split]
    if not all("file" in r for r in rows):
        raise ConfigError("distill.task_source", True, hint=f"{data.name} was read from published files, "
                          "which do not say which source file each input came from")
    held_out = {r["file"] for split in HELD_OUT for r in data.splits[split]}
    seen = {r["code"] for r in rows}
    source_dir = teacher_data_config(cfg, teacher)[1].get("source_dir")
    rest = []
    for function in source_functions(data.name, source_dir=source_dir, cache_dir=cfg.data.cache_dir):
        parsed = None if function["file"] in held_out else code_only(function)
        if parsed is not None and parsed[1] not in seen:
            seen.add(parsed[1])
            rest.append({"code": parsed[1]})
    return rest


def without_held_out(records: list[dict], data, fields: tuple[str, ...]) -> list[dict]:
    """``records`` minus those with an input that is a near-duplicate (names and literals abstracted)
    of a validation or test input or of a function defined in one: harvested code often vendors
    copies of the task's own source, and published solutions turn up in other trees."""
    held_out = held_out_keys(data, fields)
    return [r for r in records if not any(near_duplicate_key(r[f]) in held_out for f in fields)]


def held_out_keys(data, fields: tuple[str, ...]) -> set[str]:
    """The near-duplicate keys of every validation/test input (:func:`code_keys`)."""
    return {key for split in HELD_OUT for r in data.splits[split] for f in fields for key in code_keys(r[f])}


def code_keys(code: str) -> set[str]:
    """The near-duplicate key of ``code`` and of each function defined in it, printed as harvested code
    is (``ast.unparse``, docstring removed): a harvested copy of a method matches the published input
    that wraps it in a class or lays it out otherwise."""
    keys = {near_duplicate_key(code)}
    try:
        with warnings.catch_warnings():  # invalid escape sequences of published code are not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return keys
    # nested functions too: another tree may hold one at module level
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and strip_docstring(node)]
    keys.update(near_duplicate_key(ast.unparse(function)) for function in functions)
    if _rename_soft_keyword_names(tree):
        keys.update(near_duplicate_key(ast.unparse(function)) for function in functions)
    return keys


def _rename_soft_keyword_names(tree: ast.AST) -> bool:
    """Rename, in place, every name that is a soft keyword (``_``, ``match``, ``case``, ...); True if
    there was one. The near-duplicate key reads those as keywords, so without this a renamed copy
    (the clone builder's ``code1``) of a function that names a variable ``_`` would not match it."""
    renamed = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in SOFT_KEYWORDS:
            node.id, renamed = "name", True
        elif isinstance(node, ast.arg) and node.arg in SOFT_KEYWORDS:
            node.arg, renamed = "name", True
    return renamed


def _unlabelled(record: dict, fields: tuple[str, ...]) -> dict:
    """The inputs of a built record and its ``kind`` (counted, never trained on)."""
    row = {f: record[f] for f in fields}
    if "kind" in record:
        row["kind"] = record["kind"]
    return row


def _source_dir(extra: str) -> str | None:
    """``distill.extra_source_dir`` as ``load_task``'s ``source_dir`` (None: the standard library)."""
    return None if extra == STDLIB else extra


def _tree(source_dir: str | None) -> Path:
    """The directory an embedded task is harvested from, as ``load_task`` resolves it."""
    return (Path(sysconfig.get_paths()["stdlib"]) if source_dir is None else Path(source_dir).expanduser()).resolve()

