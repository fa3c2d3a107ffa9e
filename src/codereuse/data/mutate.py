"""DeepBugs-style seeded bugs: one small, plausible, still-compiling change to a function.

Used by the ``defect`` task (clean vs. mutant) and as hard negatives for ``clone`` (near-identical
text, different meaning). Sites are collected on the input and each attempt is applied to a fresh
copy, so a rejected site never leaves a half-mutated tree.
"""
from __future__ import annotations

import ast
import random
from collections.abc import Iterator

MUTATION_KINDS: tuple[str, ...] = (
    "negate_condition",
    "arithmetic_swap",
    "off_by_one",
    "comparison_swap",
    "wrong_variable",
    "swap_arguments",
)
# Kinds that change the printed text visibly weigh more than a one-character comparison swap.
DEFAULT_WEIGHTS: dict[str, float] = {
    "negate_condition": 3.0,
    "arithmetic_swap": 3.0,
    "off_by_one": 3.0,
    "comparison_swap": 1.0,
    "wrong_variable": 2.0,
    "swap_arguments": 2.0,
}

_ARITH_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Div, ast.FloorDiv),
    ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult),
    ast.Mod: (ast.FloorDiv,),
    ast.Pow: (ast.Mult,),
    ast.LShift: (ast.RShift,),
    ast.RShift: (ast.LShift,),
    ast.BitAnd: (ast.BitOr,),
    ast.BitOr: (ast.BitAnd,),
    ast.BitXor: (ast.BitOr,),
}
_COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
# Calls whose result does not depend on the order of their two arguments: swapping them is no bug.
_COMMUTATIVE_CALLS = frozenset({
    "max", "min", "add", "mul", "and_", "or_", "xor", "eq", "ne", "is_", "is_not", "gcd", "lcm", "hypot",
    "dist", "isclose", "union", "intersection", "symmetric_difference", "isdisjoint"})
# x + 0, x - 0, x * 1, x // 1, x ** 1, x << 0, ...: an operator swap that leaves the value alone.
_NEUTRAL_RIGHT = {ast.Add: 0, ast.Sub: 0, ast.Mult: 1, ast.Div: 1, ast.FloorDiv: 1, ast.Pow: 1,
                  ast.LShift: 0, ast.RShift: 0, ast.BitXor: 0}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

Site = tuple[ast.AST, object]  # (node of the input to change, kind-specific payload)


def mutate_function(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    rng: random.Random,
    weights: dict[str, float] | None = None,
) -> tuple[ast.AST, str] | None:
    """Return ``(mutant, kind)`` with one seeded bug, or None if the function has no usable site."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    unknown = set(weights) - set(MUTATION_KINDS)
    if unknown:
        raise ValueError(f"unknown mutation kinds {sorted(unknown)}; known: {MUTATION_KINDS}")
    body = [node for stmt in func.body for node in ast.walk(stmt)]  # not decorators or defaults
    original = ast.unparse(func)
    # Drawing among all weighted kinds and dropping those without sites gives the same distribution
    # as drawing among kinds with sites, but only computes sites for kinds actually drawn.
    pending = [k for k in MUTATION_KINDS if weights.get(k, 0) > 0]
    sites: dict[str, list[Site]] = {}
    while pending:
        kind = rng.choices(pending, weights=[weights[k] for k in pending])[0]
        if kind not in sites:
            sites[kind] = _MUTATIONS[kind][0](func, body)
        if not sites[kind]:
            pending.remove(kind)
            continue
        node, payload = sites[kind].pop(rng.randrange(len(sites[kind])))
        copies: dict[int, ast.AST] = {}
        mutant = clone_ast(func, copies)
        _MUTATIONS[kind][1](copies[id(node)], payload)
        text = ast.unparse(mutant)
        if text == original:
            continue
        if _compiles(text):
            return mutant, kind
        # e.g. a nested function with ``nonlocal``: no mutant of it can compile on its own either.
        if not _compiles(original):
            return None
    return None


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def clone_ast(node: ast.AST, copies: dict[int, ast.AST] | None = None) -> ast.AST:
    """Deep copy of an AST, several times faster than ``copy.deepcopy``; records
    ``id(original) -> copy`` in ``copies`` when given."""
    fields = {}
    for key, value in node.__dict__.items():
        # Positions and identifiers are immutable; Load/Store markers carry no state and are shared.
        if isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
            value = clone_ast(value, copies)
        elif isinstance(value, list):
            value = [clone_ast(v, copies) if isinstance(v, ast.AST) else v for v in value]
        fields[key] = value
    new = type(node).__new__(type(node))
    new.__dict__.update(fields)
    if copies is not None:
        copies[id(node)] = new
    return new


def _is_sequence_literal(node: ast.AST) -> bool:
    return isinstance(node, (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))


def _is_int_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


# --- site finders -------------------------------------------------------------------------------

def _negate_sites(func, body) -> list[Site]:
    # A constant test (``while True``) is a loop idiom, not a condition a programmer gets wrong.
    return [(n, None) for n in body
            if isinstance(n, (ast.If, ast.While, ast.IfExp)) and not isinstance(n.test, ast.Constant)]


def _arithmetic_sites(func, body) -> list[Site]:
    sites = []
    for n in body:
        if isinstance(n, ast.BinOp):
            # "a" + x, "%s" % x or [0] * n with a swapped operator is a guaranteed TypeError,
            # not a subtle bug.
            if _is_sequence_literal(n.left) or _is_sequence_literal(n.right) or _neutral(n.op, n.right) \
                    or _neutral(n.op, n.left, left=True) or _idempotent(n):
                continue
        elif not (isinstance(n, ast.AugAssign) and not _is_sequence_literal(n.value)
                  and not _neutral(n.op, n.value)):
            continue
        sites += [(n, new) for new in _ARITH_SWAPS.get(type(n.op), ())]
    return sites


def _off_by_one_sites(func, body) -> list[Site]:
    """Int constants in comparisons, subscripts, slices, range() arguments and arithmetic."""
    holders: list[tuple[ast.AST, str, int | None]] = []  # (parent, field, position in a list field)
    for n in body:
        if isinstance(n, ast.Compare):
            holders += [(n, "left", None)] + [(n, "comparators", i) for i in range(len(n.comparators))]
        elif isinstance(n, ast.Subscript):
            holders.append((n, "slice", None))
        elif isinstance(n, ast.Slice):
            holders += [(n, "lower", None), (n, "upper", None), (n, "step", None)]
        elif isinstance(n, ast.BinOp):
            holders += [(n, "left", None), (n, "right", None)]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "range":
            holders += [(n, "args", i) for i in range(len(n.args))]
    sites = []
    for parent, field, pos in holders:
        child = getattr(parent, field)
        child = child[pos] if pos is not None else child
        # x[-1] is UnaryOp(USub, 1): mutate the 1 inside, but never print "--1".
        negated = isinstance(child, ast.UnaryOp) and isinstance(child.op, ast.USub)
        if negated:
            parent, field, pos, child = child, "operand", None, child.operand
        if child is not None and _is_int_constant(child):
            sites += [(parent, (field, pos, delta)) for delta in (1, -1)
                      if not (negated and child.value + delta < 0)]
    return sites


def _comparison_sites(func, body) -> list[Site]:
    return [(n, k) for n in body if isinstance(n, ast.Compare)
            for k in range(len(n.ops))]


def _neutral(op: ast.operator, operand: ast.expr, left: bool = False) -> bool:
    """Would swapping ``op`` leave the value alone because of this constant operand?

    Right: ``x + 0 == x - 0``, ``x * 1 == x // 1 == x ** 1``, ``x << 0 == x >> 0``, ``x ^ 0 == x | 0``.
    Left: ``0 * x == 0 / x == 0 // x`` (for x != 0)."""
    if not (isinstance(operand, ast.Constant) and type(operand.value) in (int, float)):
        return False
    if left:
        return type(op) in (ast.Mult, ast.Div, ast.FloorDiv) and operand.value == 0
    neutral = _NEUTRAL_RIGHT.get(type(op))
    return neutral is not None and operand.value == neutral


def _idempotent(node: ast.BinOp) -> bool:
    """``x & x == x | x``: the same operand on both sides of a bitwise and/or."""
    return isinstance(node.op, (ast.BitAnd, ast.BitOr)) and ast.dump(node.left) == ast.dump(node.right)


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _swap_argument_sites(func, body) -> list[Site]:
    sites = []
    for n in body:
        if not isinstance(n, ast.Call) or any(isinstance(a, ast.Starred) for a in n.args) \
                or _call_name(n) in _COMMUTATIVE_CALLS:
            continue
        texts = [ast.unparse(a) for a in n.args]
        sites += [(n, (i, j)) for i in range(len(texts)) for j in range(i + 1, len(texts))
                  if texts[i] != texts[j]]
    return sites


def _wrong_variable_sites(func, body) -> list[Site]:
    """Loads of a local replaced by another local that is certainly bound at that point.

    "Certainly bound" is approximated by dominance in the statement tree: parameters, names bound by
    an earlier sibling statement in an enclosing block (plain assignments and with-as), and the
    target of an enclosing for/with/except. Loads inside nested scopes are left alone.
    """
    args = func.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared, deleted, bound = set(), set(), set(params)
    for n in _own_scope_nodes(func.body):
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            declared.update(n.names)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Del):
            deleted.add(n.id)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            bound.add(n.id)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            deleted.add(n.name)  # implicitly deleted when the handler ends
    locals_ = bound - declared - deleted
    sites: list[Site] = []

    def visit_block(stmts: list[ast.stmt], available: set[str]) -> None:
        available = set(available)
        for stmt in stmts:
            visit_stmt(stmt, available)
            available |= _names_bound_after(stmt) & locals_

    def visit_expr(expr: ast.AST, available: set[str]) -> None:
        for n in _own_scope_nodes([expr]):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in locals_:
                sites.extend((n, other) for other in sorted(available - {n.id}))

    def visit_stmt(stmt: ast.stmt, available: set[str]) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        inner = set(available)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            inner |= _target_names(stmt.target) & locals_
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            inner |= {name for item in stmt.items if item.optional_vars is not None
                      for name in _target_names(item.optional_vars)} & locals_
        for field, value in ast.iter_fields(stmt):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                visit_block(value, inner if field == "body" else available)
            elif field == "handlers":
                for handler in value:
                    extra = {handler.name} - declared if handler.name else set()
                    if handler.type is not None:
                        visit_expr(handler.type, available)
                    visit_block(handler.body, available | extra)
            elif field == "cases":
                for case in value:
                    if case.guard is not None:
                        visit_expr(case.guard, available)
                    visit_block(case.body, available)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        visit_expr(item, available)
            elif isinstance(value, ast.AST):
                visit_expr(value, available)

    visit_block(func.body, params - declared - deleted)
    return sites


def _own_scope_nodes(roots: list[ast.AST]) -> Iterator[ast.AST]:
    """Walk without entering nested functions, classes, lambdas or comprehensions."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _names_bound_after(stmt: ast.stmt) -> set[str]:
    """Names a statement always binds once it completes normally (for-loops may run zero times)."""
    if isinstance(stmt, ast.Assign):
        return set().union(*(_target_names(t) for t in stmt.targets))
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return _target_names(stmt.target)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return {name for item in stmt.items if item.optional_vars is not None
                for name in _target_names(item.optional_vars)}
    return set()


# --- appliers -----------------------------------------------------------------------------------

def _apply_negate(node, _payload) -> None:
    test = node.test
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        node.test = test.operand
    else:
        node.test = ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=test), test)


def _apply_arithmetic(node, new_op) -> None:
    node.op = new_op()


def _apply_off_by_one(node, payload) -> None:
    field, pos, delta = payload
    old = getattr(node, field) if pos is None else getattr(node, field)[pos]
    value = old.value + delta
    # A negative literal is printed without parentheses ("-1 ** 2"); a USub node keeps precedence.
    new = ast.copy_location(ast.Constant(abs(value)), old)
    if value < 0:
        new = ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=new), old)
    if pos is None:
        setattr(node, field, new)
    else:
        getattr(node, field)[pos] = new


def _apply_comparison(node, k) -> None:
    node.ops[k] = _COMPARE_SWAPS[type(node.ops[k])]()


def _apply_wrong_variable(node, name) -> None:
    node.id = name


def _apply_swap_arguments(node, pair) -> None:
    i, j = pair
    node.args[i], node.args[j] = node.args[j], node.args[i]


# kind -> (find the sites in a function, apply the mutation at one site of a copy)
_MUTATIONS = {
    "negate_condition": (_negate_sites, _apply_negate),
    "arithmetic_swap": (_arithmetic_sites, _apply_arithmetic),
    "off_by_one": (_off_by_one_sites, _apply_off_by_one),
    "comparison_swap": (_comparison_sites, _apply_comparison),
    "wrong_variable": (_wrong_variable_sites, _apply_wrong_variable),
    "swap_arguments": (_swap_argument_sites, _apply_swap_arguments),
}
