"""The transfer set of a pair task: the task's training pairs plus pairs built from more code, none
of the added code a near-copy of validation/test code, every source counted; extra code from the
task's own source tree refused."""
from __future__ import annotations

import ast
import random
import shutil
from collections import Counter
from types import SimpleNamespace

import pytest

from codereuse.compression import transfer_set as transfer_lib
from codereuse.compression.pipeline import run as compress_run
from codereuse.compression.settings import DistillSettings
from codereuse.compression.teacher_run import load_data
from codereuse.compression.transfer_set import check_extra_source, transfer_set, without_held_out
from codereuse.data.normalize import near_duplicate_key
from codereuse.data.registry import load_task
from codereuse.data.rewrite import rewrite_function
from codereuse.errors import ConfigError
from conftest import STDLIB, compose_train, shared_data

FIELDS = ("code1", "code2")
HELD_OUT = ("valid", "test")
PACKAGES = ("json", "html", "wsgiref", "concurrent")  # real functions for the clone builder, built in seconds


def compose_compress(overrides: list[str], output_dir):
    return compose_train(overrides, output_dir, config_name="compress")


def functions(code: str) -> list[ast.FunctionDef]:
    try:
        return [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.FunctionDef)]
    except SyntaxError:  # a few published solutions are Python 2
        return []


def usable_solution(records: list[dict]) -> str:
    """The first solution the clone builder can use: one function of 5-30 lines with a site for a
    structural rewrite (whether one applies does not depend on the random draw)."""
    for record in records:
        defs = functions(record["code1"])
        if len(defs) == 1 and 5 <= len(ast.unparse(defs[0]).splitlines()) <= 30 and \
                rewrite_function(defs[0], random.Random(0), ["value"], rename=False)[1]:
            return record["code1"]
    raise AssertionError("no usable solution")


@pytest.fixture(scope="module")
def leetcode(tmp_path_factory):
    """The transfer set of the LeetCode clone task with code built from a tree of standard-library
    packages that also holds verbatim copies of one validation and one test solution."""
    data_dir = shared_data("leetcode-clones")
    root = tmp_path_factory.mktemp("transfer")
    tree = root / "extra"
    for package in PACKAGES:
        shutil.copytree(STDLIB / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = compose_compress(["task=clone_leetcode", f"data.dir={data_dir}", f"data.cache_dir={root / 'cache'}",
                            f"distill.extra_source_dir={tree}"], root / "run")
    teacher = SimpleNamespace(config=None, task={"name": "clone"}, checkpoint=root / "t.ckpt")
    data = load_data(cfg, teacher)
    # not test_*.py / *_test.py: the harvest leaves test files out
    copies = {f"solution_{split}_split.py": usable_solution(data.splits[split]) for split in HELD_OUT}
    for name, code in copies.items():
        (tree / name).write_text(code)
    transfer = transfer_set(cfg, DistillSettings.from_dict(cfg.distill), teacher, data)
    built = load_task("clone", source_dir=str(tree), cache_dir=str(root / "cache"), seed=cfg.data.seed)  # cached
    return SimpleNamespace(data=data, transfer=transfer, built=built, copies=copies)


def test_pair_transfer_set_is_the_training_pairs_and_built_pairs_without_held_out_code(leetcode):
    data, (task, extra) = leetcode.data, leetcode.transfer.sources
    assert (task.name, extra.name) == ("task", "extra")
    assert task.rows == data.splits["train"]  # the training pairs, as the teacher was trained on them
    solutions = {split: {r[f"idx{side}"] for r in data.splits[split] for side in (1, 2)} for split in data.splits}
    assert solutions["train"].isdisjoint(solutions["valid"] | solutions["test"])  # training problems only

    held_out = {near_duplicate_key(ast.unparse(node)) for split in HELD_OUT for r in data.splits[split]
                for f in FIELDS for node in functions(r[f])}
    assert extra.rows and all("label" not in r for r in extra.rows)
    assert not any(near_duplicate_key(r[f]) in held_out for r in extra.rows for f in FIELDS)
    # the copies were built into pairs (a positive and a negative each), and every such pair left out
    copied = [r for rows in leetcode.built.splits.values() for r in rows if r["file"] in leetcode.copies]
    assert {r["file"] for r in copied} == set(leetcode.copies) and len(copied) >= 2 * len(leetcode.copies)
    assert extra.left_out == len(copied) and not {r["code1"] for r in copied} & {r["code1"] for r in extra.rows}


def test_a_renamed_copy_of_a_method_in_held_out_code_is_left_out():
    """Published inputs wrap solutions in a class; the clone builder renames every name, ``_`` too,
    which the near-duplicate key reads as a (soft) keyword."""
    solution = "class Solution:\n  def solve(self, n: int) -> int:\n    for _ in range(n):\n      n -= 1\n    return n\n"
    data = SimpleNamespace(splits={"valid": [{"code1": solution, "code2": "def other(a):\n    return [a]"}], "test": []})
    renamed = {"code1": "def count(items, k: int) -> int:\n    for step in range(k):\n        k -= 1\n    return k",
               "code2": "def g(x):\n    while x:\n        x -= 1"}
    unrelated = {"code1": "def count(items, k):\n    return items[k]", "code2": renamed["code2"]}
    assert without_held_out([renamed, unrelated], data, FIELDS) == [unrelated]


def test_transfer_set_counts_are_what_its_rows_say(leetcode):
    data, transfer, (_, extra) = leetcode.data, leetcode.transfer, leetcode.transfer.sources
    built = sum(len(rows) for rows in leetcode.built.splits.values())
    kinds = Counter(r["kind"] for r in extra.rows)
    assert set(kinds) == {"rewrite", "sibling", "hard_negative"}
    assert transfer.metrics() == {"transfer/task_rows": len(data.splits["train"]), "transfer/extra_rows": len(extra.rows),
                                  **{f"transfer/extra_kind_{kind}": count for kind, count in kinds.items()},
                                  "transfer/extra_left_out": built - len(extra.rows),
                                  "transfer/left_out": built - len(extra.rows)}


def test_extra_code_from_the_tasks_own_source_is_refused(tmp_path):
    cfg = compose_compress(["task=clone", "model=tiny", "logger=none", "distill.extra_source_dir=stdlib",
                            f"teacher_dir={tmp_path / 'teachers'}"], tmp_path / "run")
    with pytest.raises(ConfigError, match=r"^distill\.extra_source_dir='stdlib' .*built from") as refused:
        compress_run(cfg)  # before the default teacher is fine-tuned
    assert "\n" not in str(refused.value) and not (tmp_path / "teachers").exists()
    # a given teacher's embedded task: refused as the transfer set is built, before any code is harvested
    teacher = SimpleNamespace(config=None, task={"name": "clone"})
    data = SimpleNamespace(name="clone", family="pair", splits={"train": []})
    with pytest.raises(ConfigError, match=r"^distill\.extra_source_dir='stdlib' "):
        transfer_set(cfg, DistillSettings.from_dict(cfg.distill), teacher, data)
    # a tree that holds, or lies in, the task's source is refused too; another tree, or a published task, is not
    task_tree = {"source_dir": str(tmp_path / "code"), "dir": None}
    for extra in (tmp_path / "code", tmp_path / "code" / "package", tmp_path):
        with pytest.raises(ConfigError, match="built from"):
            check_extra_source(str(extra), task_tree)
    check_extra_source(str(tmp_path / "other"), task_tree)
    check_extra_source("stdlib", {"source_dir": None, "dir": "../shared/data/leetcode-clones"})


def test_stdlib_extra_code_is_built_from_the_standard_library(tmp_path, monkeypatch):
    """``distill.extra_source_dir=stdlib`` on a published task: the builder's default source (None)."""
    cfg = compose_compress(["task=clone_leetcode", "distill.extra_source_dir=stdlib"], tmp_path / "run")
    pair = {"code1": "def f(a):\n    return a", "code2": "def g(b):\n    return b", "label": 1}
    built = SimpleNamespace(splits={split: [{**pair, "kind": "rewrite"}] for split in ("train", "valid", "test")})
    asked = []
    monkeypatch.setattr(transfer_lib, "load_task", lambda name, **options: asked.append(options) or built)
    data = SimpleNamespace(name="clone", family="pair", splits={"train": [pair], "valid": [], "test": []})
    transfer = transfer_set(cfg, DistillSettings.from_dict(cfg.distill), SimpleNamespace(config=None), data)
    assert [options["source_dir"] for options in asked] == [None]
    assert transfer.metrics() == {"transfer/task_rows": 1, "transfer/extra_rows": 3, "transfer/extra_kind_rewrite": 3,
                                  "transfer/extra_left_out": 0, "transfer/left_out": 0}
