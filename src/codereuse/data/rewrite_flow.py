"""Rewrites of control flow and statement order that change many tokens and the layout:
``for i in range(..)`` <-> ``while``, guard clause <-> ``else`` branch, reordering two independent
assignments, conditional expression <-> ``if`` statement.

As everywhere in the rewrites, a site is only used where equivalence follows from the syntax;
``for``/``while`` assumes int bounds (``range`` rejects anything else, so a function that completes
behaves the same).
"""
from __future__ import annotations

import ast

from .rewrite_support import FUNCS, Facts, Func, blocks, located, name_counts, negate, targets_private

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_TERMINATORS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
# Builtins without side effects on their arguments' owners (when not shadowed in the function).
_SAFE_CALLS = {"len", "isinstance", "abs", "int", "str", "float", "bool", "repr", "type", "id", "ord", "chr"}
_READ_NODES = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.BinOp, ast.UnaryOp,
               ast.BoolOp, ast.Compare, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.JoinedStr,
               ast.FormattedValue, ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
               ast.Call, ast.keyword)


def _stored(func: Func) -> set[str]:
    """Names the function binds itself (parameters and stores): its locals."""
    args = func.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
    return params | {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}


def _continues(body: list[ast.stmt]) -> bool:
    """A ``continue`` of this loop (not of a loop or function nested in it)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Continue):
            return True
        if not isinstance(node, (*_LOOPS, *FUNCS, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, _LOOPS):
            stack.extend(node.orelse)  # a loop's else clause belongs to the outer loop
    return False


def _writes(nodes: list[ast.AST], name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
               for node in nodes for n in ast.walk(node))


def _int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


# --- for <-> while ------------------------------------------------------------------------------

def _range_bounds(loop: ast.stmt) -> tuple[ast.expr, ast.expr] | None:
    """(start, stop) of ``for i in range([start,] stop)`` with plain bounds, no else, no continue."""
    if not (isinstance(loop, ast.For) and not loop.orelse and isinstance(loop.target, ast.Name)
            and isinstance(loop.iter, ast.Call) and isinstance(loop.iter.func, ast.Name)
            and loop.iter.func.id == "range" and 1 <= len(loop.iter.args) <= 2 and not loop.iter.keywords):
        return None
    args = loop.iter.args
    if not all(_int(a) or isinstance(a, ast.Name) for a in args) or _continues(loop.body):
        return None
    return (args[0], args[1]) if len(args) == 2 else (ast.Constant(0), args[0])


def _for_sites(func: Func) -> list:
    candidates = [(block, i) for block, _ in blocks(func) for i, stmt in enumerate(block) if _range_bounds(stmt)]
    if not candidates:
        return []
    facts, local = Facts(func), _stored(func)
    sites = []
    for block, i in candidates:
        loop = block[i]
        bounds = [b.id for b in _range_bounds(loop) if isinstance(b, ast.Name)]
        # the stop is read once by range() but every turn by while: nothing may rebind it
        if ("range" not in local and targets_private(loop.target, loop, facts)
                and not _writes(loop.body, loop.target.id)
                and all(b in local and facts.private(b) and not _writes(loop.body, b) for b in bounds)):
            sites.append((block, i))
    return sites


def _apply_for_to_while(site) -> None:
    block, i = site
    loop = block[i]
    start, stop = _range_bounds(loop)
    name = loop.target.id
    init = ast.Assign(targets=[ast.Name(name, ast.Store())], value=start)
    step = ast.AugAssign(target=ast.Name(name, ast.Store()), op=ast.Add(), value=ast.Constant(1))
    test = ast.Compare(ast.Name(name, ast.Load()), [ast.Lt()], [stop])
    block[i:i + 1] = [located(init, loop), located(ast.While(test=test, body=loop.body + [step], orelse=[]), loop)]


def _counted_while(init: ast.stmt, loop: ast.stmt) -> str | None:
    """The counter of ``i = <int>; while i < stop: ...; i += 1``."""
    if not (isinstance(init, ast.Assign) and len(init.targets) == 1 and isinstance(init.targets[0], ast.Name)
            and _int(init.value) and isinstance(loop, ast.While) and not loop.orelse and len(loop.body) >= 2):
        return None
    name, test, last = init.targets[0].id, loop.test, loop.body[-1]
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Lt)
            and isinstance(test.left, ast.Name) and test.left.id == name
            and isinstance(last, ast.AugAssign) and isinstance(last.op, ast.Add) and isinstance(last.target, ast.Name)
            and last.target.id == name and _int(last.value) and last.value.value == 1):
        return None
    if _writes(loop.body[:-1], name) or _continues(loop.body):
        return None
    return name


def _len_bound(func: Func, stop: ast.expr) -> bool:
    """``stop`` is an int constant, or a local only ever bound to ``len(...)`` (an int)."""
    if _int(stop):
        return True
    if not isinstance(stop, ast.Name):
        return False
    bindings = [n for n in ast.walk(func) if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == stop.id for t in n.targets)]
    is_len = [len(b.targets) == 1 and isinstance(b.value, ast.Call) and isinstance(b.value.func, ast.Name)
              and b.value.func.id == "len" for b in bindings]
    stores = sum(1 for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == stop.id
                 and not isinstance(n.ctx, ast.Load))
    return bool(bindings) and all(is_len) and stores == len(bindings) and "len" not in _stored(func)


def _while_sites(func: Func) -> list:
    candidates = [(block, i) for block, _ in blocks(func) for i in range(len(block) - 1)
                  if _counted_while(block[i], block[i + 1])]
    if not candidates:
        return []
    facts, local = Facts(func), _stored(func)
    sites = []
    for block, i in candidates:
        init, loop = block[i], block[i + 1]
        name, stop = init.targets[0].id, loop.test.comparators[0]
        uses = name_counts(init) + name_counts(loop)
        if ("range" not in local and facts.private(name) and facts.names[name] == uses[name]
                and _len_bound(func, stop) and not (isinstance(stop, ast.Name) and _writes(loop.body, stop.id))):
            sites.append((block, i))
    return sites


def _apply_while_to_for(site) -> None:
    block, i = site
    init, loop = block[i], block[i + 1]
    start, stop = init.value, loop.test.comparators[0]
    args = [stop] if start.value == 0 else [start, stop]
    call = ast.Call(func=ast.Name("range", ast.Load()), args=args, keywords=[])
    new = ast.For(target=ast.Name(init.targets[0].id, ast.Store()), iter=call, body=loop.body[:-1], orelse=[])
    block[i:i + 2] = [located(new, loop)]


# --- guard clause <-> else ----------------------------------------------------------------------

def _guard_sites(func: Func) -> list:
    """``if c: ...; return`` followed by more statements: the rest can become the else branch."""
    return [(block, i) for block, _ in blocks(func) for i, stmt in enumerate(block[:-1])
            if isinstance(stmt, ast.If) and not stmt.orelse and isinstance(stmt.body[-1], _TERMINATORS)]


def _apply_guard_to_else(site) -> None:
    block, i = site
    guard = block[i]
    new = ast.If(test=located(negate(guard.test), guard.test), body=block[i + 1:], orelse=guard.body)
    block[i:] = [located(new, guard)]


def _else_sites(func: Func) -> list:
    """``if c: ...; return else: rest``: the else branch can follow the guard unindented."""
    return [(block, i) for block, _ in blocks(func) for i, stmt in enumerate(block)
            if isinstance(stmt, ast.If) and stmt.orelse and isinstance(stmt.body[-1], _TERMINATORS)
            and not (len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If))]


def _apply_else_to_guard(site) -> None:
    block, i = site
    node = block[i]
    rest, node.orelse = node.orelse, []
    block[i + 1:i + 1] = rest


# --- independent statements ---------------------------------------------------------------------

def _plain_assign(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def _calls(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) for n in ast.walk(node))


def _reads_only(node: ast.expr, local: set[str]) -> bool:
    """Expressions that only read: operators, literals, attributes and a few pure builtins."""
    return all(isinstance(n, _READ_NODES) and not (isinstance(n, ast.Call) and not (
        isinstance(n.func, ast.Name) and n.func.id in _SAFE_CALLS and n.func.id not in local))
        for n in ast.walk(node))


def _swap_sites(func: Func) -> list:
    candidates = [(block, i) for block, guarded in blocks(func) if not guarded for i in range(len(block) - 1)
                  if _plain_assign(block[i]) and _plain_assign(block[i + 1])]
    if not candidates:
        return []
    facts, local = Facts(func), _stored(func)
    sites = []
    for block, i in candidates:
        first, second = block[i], block[i + 1]
        a, b = _plain_assign(first), _plain_assign(second)
        reads_a, reads_b = name_counts(first.value), name_counts(second.value)
        shared = set(reads_a) & set(reads_b)
        # an exception in either must leave nothing observable behind: private targets, no try
        if (a != b and a not in reads_b and b not in reads_a and facts.private(a) and facts.private(b)
                and _reads_only(first.value, local) and _reads_only(second.value, local)
                and not (shared and (_calls(first.value) or _calls(second.value)))):
            sites.append((block, i))
    return sites


def _apply_swap_statements(site) -> None:
    block, i = site
    block[i], block[i + 1] = block[i + 1], block[i]


# --- conditional expression <-> if --------------------------------------------------------------

def _ternary_sites(func: Func) -> list:
    return [(block, i) for block, _ in blocks(func) for i, stmt in enumerate(block)
            if (_plain_assign(stmt) or isinstance(stmt, ast.Return)) and isinstance(stmt.value, ast.IfExp)]


def _apply_ternary_to_if(site) -> None:
    block, i = site
    stmt = block[i]
    choice = stmt.value

    def branch(value: ast.expr) -> ast.stmt:
        if isinstance(stmt, ast.Return):
            return ast.Return(value=value)
        return ast.Assign(targets=[ast.Name(stmt.targets[0].id, ast.Store())], value=value)

    block[i] = located(ast.If(test=choice.test, body=[branch(choice.body)], orelse=[branch(choice.orelse)]), stmt)


def _branch_value(stmts: list[ast.stmt]) -> tuple[str, ast.expr] | None:
    """("return", value) or (target, value) of a one-statement branch."""
    if len(stmts) != 1:
        return None
    stmt = stmts[0]
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        return "return", stmt.value
    name = _plain_assign(stmt)
    return (name, stmt.value) if name else None


def _if_sites(func: Func) -> list:
    sites = []
    for block, _ in blocks(func):
        for i, stmt in enumerate(block):
            if isinstance(stmt, ast.If) and stmt.orelse:
                body, orelse = _branch_value(stmt.body), _branch_value(stmt.orelse)
                if body and orelse and body[0] == orelse[0]:
                    sites.append((block, i))
    return sites


def _apply_if_to_ternary(site) -> None:
    block, i = site
    node = block[i]
    (target, yes), (_, no) = _branch_value(node.body), _branch_value(node.orelse)
    value = ast.IfExp(test=node.test, body=yes, orelse=no)
    new = ast.Return(value=value) if target == "return" else ast.Assign(
        targets=[ast.Name(target, ast.Store())], value=value)
    block[i] = located(new, node)


# kind -> (find the sites in a function, apply the rewrite at one site)
FLOW = {
    "for_to_while": (_for_sites, _apply_for_to_while),
    "while_to_for": (_while_sites, _apply_while_to_for),
    "guard_to_else": (_guard_sites, _apply_guard_to_else),
    "else_to_guard": (_else_sites, _apply_else_to_guard),
    "swap_statements": (_swap_sites, _apply_swap_statements),
    "ternary_to_if": (_ternary_sites, _apply_ternary_to_if),
    "if_to_ternary": (_if_sites, _apply_if_to_ternary),
}
