"""What the structural rewrites share: statement blocks, name facts, negation, locations.

A rewrite may only fire where its equivalence is provable from the syntax; these helpers answer
the recurring questions (can an exception here be caught? can anything outside observe this
local?).
"""
from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator

from .rename import COMPS, DYNAMIC_SCOPE, FUNCS, Func

__all__ = ["COMPS", "FUNCS", "Facts", "Func", "GUARDS", "blocks", "located", "name_counts", "negate",
           "rescopable", "simple_target", "targets_private"]

NEGATED = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
# Where an exception can be caught or suppressed while the function keeps running (try/except* is
# new in Python 3.11).
GUARDS = (ast.Try, ast.With, ast.AsyncWith) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def located(new: ast.AST, old: ast.AST) -> ast.AST:
    """Give a new node, and the new nodes inside it, the source position of the one it replaces."""
    return ast.fix_missing_locations(ast.copy_location(new, old))


def blocks(func: Func) -> Iterator[tuple[list[ast.stmt], bool]]:
    """Statement lists outside class bodies, with whether an exception there could be caught
    (try) or suppressed (with) while the function keeps running."""
    stack: list[tuple[ast.AST, bool]] = [(func, False)]
    while stack:
        node, guarded = stack.pop()
        inner = guarded or isinstance(node, GUARDS)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, field, None)
            if not isinstance(value, list) or not value:
                continue
            if isinstance(value[0], ast.stmt):
                yield value, inner
            for child in value:
                if not isinstance(child, ast.ClassDef):
                    stack.append((child, inner))


def name_counts(node: ast.AST) -> Counter:
    return Counter(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


class Facts:
    """Whole-function facts that decide whether re-scoping a name is observable."""

    def __init__(self, func: Func):
        self.names: Counter = Counter()
        self.declared: set[str] = set()
        self.in_nested_scopes: set[str] = set()
        stack = [(child, False) for child in ast.iter_child_nodes(func)]
        while stack:
            node, nested = stack.pop()
            if isinstance(node, ast.Name):
                self.names[node.id] += 1
                if nested:
                    self.in_nested_scopes.add(node.id)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                self.declared.update(node.names)
            nested = nested or isinstance(node, (*FUNCS, ast.ClassDef))
            stack.extend((child, nested) for child in ast.iter_child_nodes(node))
        self.dynamic = bool(DYNAMIC_SCOPE & set(self.names))

    def private(self, name: str) -> bool:
        """A plain local that no closure, global statement or locals() call can observe."""
        return not (self.dynamic or name in self.declared or name in self.in_nested_scopes)


def simple_target(target: ast.AST) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(simple_target(t) for t in target.elts)
    return isinstance(target, ast.Name)


def rescopable(node: ast.AST) -> bool:
    """No construct that behaves differently inside a comprehension's own scope."""
    return not any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr))
                   or (isinstance(n, ast.Name) and n.id in ("super", "__class__"))
                   for n in ast.walk(node))


def targets_private(target: ast.AST, stmt: ast.stmt, facts: Facts) -> bool:
    """Loop/comprehension variables that appear nowhere outside ``stmt`` (so leaking or not
    leaking them after the loop is unobservable)."""
    inside = name_counts(stmt)
    return all(facts.private(name) and facts.names[name] == inside[name] for name in name_counts(target))



def negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    # ``not (a is b)`` is exactly ``a is not b`` (same for in); ``not (a < b)`` is not ``a >= b``
    # for NaN or sets, so other comparisons get a plain ``not``.
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in NEGATED:
        return ast.Compare(test.left, [NEGATED[type(test.ops[0])]()], test.comparators)
    return ast.UnaryOp(op=ast.Not(), operand=test)
