"""``assert``: assertion generation (ATLAS-style) from test files.

Source: a test method (``def test_*``) whose last assertion statement -- a ``self.assert*(...)``
call statement or an ``assert`` statement, anywhere in its body but outside nested defs -- is
replaced by the string statement ``"<AssertPlaceHolder>"``; target: that assertion printed with
``ast.unparse``. Test methods without such a statement are skipped, and so are those whose last
assertion is their first statement: the input would be little more than the method's name (and
``ast.unparse`` would print the placeholder as a docstring). Reads the ``tests`` harvest
(``test/``, ``tests/``, ``idle_test/``... directories and ``test_*.py`` files).

Options:
    max_functions (8000): cap on the test methods used after splitting; null uses all
        (~17,000 from the standard library), at ~2x the build time.
"""
from __future__ import annotations

import ast
import random

from ..split import split_functions
from . import asserts, build_records, check_number, limit, parse_function

FAMILY = "seq2seq"
SCOPE = "tests"
VERSION = 2
OPTIONS = {"max_functions": 8000}
PLACEHOLDER = "<AssertPlaceHolder>"
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def is_assertion(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Assert):
        return True
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    return isinstance(func, ast.Attribute) and func.attr.startswith("assert") \
        and isinstance(func.value, ast.Name) and func.value.id == "self"


def last_assertion(func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[ast.stmt], int] | None:
    """``(statement list, index)`` of the last assertion in source order, or None."""
    found = None

    def visit(block: list[ast.stmt]) -> None:
        nonlocal found
        for i, stmt in enumerate(block):
            if is_assertion(stmt):
                found = (block, i)
            elif not isinstance(stmt, _NESTED):
                for inner in _blocks(stmt):  # fields come in source order: body, handlers, orelse...
                    visit(inner)

    visit(func.body)
    return found


def _blocks(stmt: ast.stmt):
    """Statement lists directly inside a compound statement (bodies, else, handlers, cases)."""
    for _, value in ast.iter_fields(stmt):
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                    yield item.body


def check_options(options: dict) -> None:
    check_number(options, "max_functions", int, 1, optional=True)


def build(functions: list[dict], *, seed: int, options: dict, progress: bool):
    rng = random.Random(f"assert-{seed}")
    candidates = [f for f in functions if asserts(f)]
    splits = limit(split_functions(candidates, seed, population=functions), options["max_functions"], rng)

    def make(function: dict, _split: str) -> list[dict]:
        node = parse_function(function["code"])
        site = last_assertion(node)
        if site is None or (site[0] is node.body and site[1] == 0):
            return []
        block, index = site
        target = ast.unparse(block[index])
        block[index] = ast.Expr(ast.Constant(PLACEHOLDER))
        return [{"source": ast.unparse(node), "target": target,
                 "file": function["file"], "name": function["name"]}]

    return build_records(splits, make, rng, desc="assert", progress=progress), None
