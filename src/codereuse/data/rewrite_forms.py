"""Rewrites between equivalent forms of one statement or expression: loop <-> comprehension,
``x += c`` <-> ``x = x + c``, if/else swap with a negated test, ``a < b`` <-> ``b > a``.
"""
from __future__ import annotations

import ast
from collections import Counter

from .rewrite_support import (Facts, Func, blocks, located, name_counts, negate, rescopable, simple_target,
                              targets_private)

_FLIPPED = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE,
            ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


def _append_call(stmt: ast.stmt, name: str) -> ast.expr | None:
    """``expr`` if stmt is exactly ``name.append(expr)``."""
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr == "append"
            and isinstance(stmt.value.func.value, ast.Name) and stmt.value.func.value.id == name
            and len(stmt.value.args) == 1 and not stmt.value.keywords
            and not isinstance(stmt.value.args[0], ast.Starred)):
        return stmt.value.args[0]
    return None


def _empty_list_assign(stmt: ast.stmt) -> str | None:
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.List) and not stmt.value.elts):
        return stmt.targets[0].id
    return None


def _loop_parts(loop: ast.stmt, name: str) -> tuple[ast.expr, list[ast.expr]] | None:
    """(appended expr, conditions) for ``for t in it: [if c:] name.append(expr)``."""
    if not isinstance(loop, ast.For) or loop.orelse or len(loop.body) != 1:
        return None
    inner, conditions = loop.body[0], []
    if isinstance(inner, ast.If) and not inner.orelse and len(inner.body) == 1:
        inner, conditions = inner.body[0], [inner.test]
    expr = _append_call(inner, name)
    return (expr, conditions) if expr is not None else None


def _loop_sites(func: Func) -> list:
    candidates = [(block, i) for block, guarded in blocks(func) if not guarded
                  for i in range(len(block) - 1)
                  if (name := _empty_list_assign(block[i])) and _loop_parts(block[i + 1], name)]
    facts = Facts(func) if candidates else None  # the costly part: only when a pattern matched
    return [(block, i) for block, i in candidates if _loop_safe(block[i], block[i + 1], facts)]


def _loop_safe(assign: ast.Assign, loop: ast.For, facts: Facts) -> bool:
    name = assign.targets[0].id
    return (facts.private(name) and name_counts(loop)[name] == 1 and simple_target(loop.target)
            and rescopable(loop) and targets_private(loop.target, loop, facts))


def _apply_loop_to_comprehension(site) -> None:
    block, i = site
    assign, loop = block[i], block[i + 1]
    expr, conditions = _loop_parts(loop, assign.targets[0].id)
    comp = ast.ListComp(elt=expr, generators=[
        ast.comprehension(target=loop.target, iter=loop.iter, ifs=conditions, is_async=0)])
    block[i:i + 2] = [located(ast.Assign(targets=assign.targets, value=comp), assign)]


def _comprehension_sites(func: Func) -> list:
    candidates = [(block, i) for block, guarded in blocks(func) if not guarded
                  for i, stmt in enumerate(block)
                  if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.ListComp)
                  and len(stmt.value.generators) == 1]
    facts = Facts(func) if candidates else None
    return [(block, i) for block, i in candidates if _comprehension_safe(block[i], facts)]


def _comprehension_safe(assign: ast.Assign, facts: Facts) -> bool:
    name, gen = assign.targets[0].id, assign.value.generators[0]
    return (not gen.is_async and len(gen.ifs) <= 1 and facts.private(name)
            and name_counts(assign.value)[name] == 0 and simple_target(gen.target)
            and rescopable(assign.value) and targets_private(gen.target, assign, facts))


def _apply_comprehension_to_loop(site) -> None:
    block, i = site
    assign = block[i]
    name, comp = assign.targets[0].id, assign.value
    gen = comp.generators[0]
    body: ast.stmt = ast.Expr(ast.Call(
        func=ast.Attribute(value=ast.Name(name, ast.Load()), attr="append", ctx=ast.Load()),
        args=[comp.elt], keywords=[]))
    if gen.ifs:
        body = ast.If(test=gen.ifs[0], body=[body], orelse=[])
    loop = ast.For(target=gen.target, iter=gen.iter, body=[body], orelse=[])
    empty = ast.Assign(targets=[ast.Name(name, ast.Store())], value=ast.List([], ast.Load()))
    block[i:i + 1] = [located(empty, assign), located(loop, assign)]


def _if_else_sites(func: Func) -> list:
    # An ``elif`` chain is left alone: swapping it would turn it into a nested if.
    return [n for n in ast.walk(func) if isinstance(n, ast.If) and n.orelse
            and not (len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If))]


def _apply_if_else_swap(node: ast.If) -> None:
    node.test = located(negate(node.test), node.test)
    node.body, node.orelse = node.orelse, node.body


def _immutable_value(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and type(node.value) in (int, float, complex, str, bytes))


def _constant_binding(node: ast.AST) -> str | None:
    """The name bound if node is ``x = c``, ``x = x op c`` or ``x op= c`` with c an immutable value."""
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        return node.target.id if _immutable_value(node.value) else None
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        name, value = node.targets[0].id, node.value
        if _immutable_value(value) or (
                isinstance(value, ast.BinOp) and isinstance(value.left, ast.Name)
                and value.left.id == name and _immutable_value(value.right)):
            return name
    return None


def _immutable_locals(func: Func) -> set[str]:
    """Locals only ever bound to constants combined with constants, hence always an immutable int,
    str, ..., for which ``x += c`` and ``x = x + c`` are the same (no in-place ``__iadd__``)."""
    stores, constant_bindings, params = Counter(), Counter(), set()
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] += 1
        elif isinstance(node, ast.arg):
            params.add(node.arg)
        name = _constant_binding(node)
        if name:
            constant_bindings[name] += 1
    facts = Facts(func)
    # Every binding of the name must be a constant one (no for target, unpacking, walrus, ...).
    return {name for name, count in constant_bindings.items()
            if count == stores[name] and name not in params and facts.private(name)}


def _augassign_sites(func: Func) -> list:
    return _immutable_targets(func, [
        (block, i) for block, _ in blocks(func) for i, stmt in enumerate(block)
        if isinstance(stmt, ast.AugAssign) and _constant_binding(stmt)])


def _immutable_targets(func: Func, candidates: list) -> list:
    names = _immutable_locals(func) if candidates else set()
    return [(block, i) for block, i in candidates if _constant_binding(block[i]) in names]


def _apply_augassign_expand(site) -> None:
    block, i = site
    node = block[i]
    value = ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value)
    block[i] = located(ast.Assign(targets=[node.target], value=value), node)


def _contract_sites(func: Func) -> list:
    return _immutable_targets(func, [
        (block, i) for block, _ in blocks(func) for i, stmt in enumerate(block)
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.BinOp)
        and _constant_binding(stmt)])


def _apply_augassign_contract(site) -> None:
    block, i = site
    node = block[i]
    new = ast.AugAssign(target=node.targets[0], op=node.value.op, value=node.value.right)
    block[i] = located(new, node)


def _pure(node: ast.expr) -> bool:
    """Operands whose evaluation order does not matter: names, constants and attribute reads.

    ``a < b`` and ``b > a`` try the same two rich comparisons, only in the other order, so they
    agree whenever the comparison methods are consistent with each other."""
    if isinstance(node, ast.Attribute):
        return _pure(node.value)
    return isinstance(node, (ast.Name, ast.Constant))


def _compare_sites(func: Func) -> list:
    return [n for n in ast.walk(func) if isinstance(n, ast.Compare) and len(n.ops) == 1
            and type(n.ops[0]) in _FLIPPED and _pure(n.left) and _pure(n.comparators[0])
            and not (isinstance(n.left, ast.Constant) and isinstance(n.comparators[0], ast.Constant))]


def _apply_compare_flip(node: ast.Compare) -> None:
    node.left, node.comparators = node.comparators[0], [node.left]
    node.ops = [_FLIPPED[type(node.ops[0])]()]


# kind -> (find the sites in a function, apply the rewrite at one site)
FORMS = {
    "if_else_swap": (_if_else_sites, _apply_if_else_swap),
    "loop_to_comprehension": (_loop_sites, _apply_loop_to_comprehension),
    "comprehension_to_loop": (_comprehension_sites, _apply_comprehension_to_loop),
    "augassign_expand": (_augassign_sites, _apply_augassign_expand),
    "augassign_contract": (_contract_sites, _apply_augassign_contract),
    "compare_flip": (_compare_sites, _apply_compare_flip),
}
