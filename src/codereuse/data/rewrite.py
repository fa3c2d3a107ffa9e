"""Semantics-preserving rewrites of a function: the positives of the ``clone`` task.

Every rewrite here must keep behaviour identical, so each one only fires on patterns where that is
provable from the syntax alone; when in doubt a site is skipped rather than risked. Functions are
treated as standalone units: renaming the function also renames its recursive calls.
"""
from __future__ import annotations

import ast
import builtins
import itertools
import keyword
import random
from collections import Counter
from collections.abc import Iterator, Sequence

from codereuse.data.mutate import clone_ast

REWRITE_KINDS: tuple[str, ...] = (
    "rename", "if_else_swap", "loop_to_comprehension", "comprehension_to_loop",
    "augassign_expand", "augassign_contract", "compare_flip",
)
_INVERSE = {
    "loop_to_comprehension": "comprehension_to_loop",
    "comprehension_to_loop": "loop_to_comprehension",
    "augassign_expand": "augassign_contract",
    "augassign_contract": "augassign_expand",
}
_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))
# Calls that see local variables by name: renaming or re-scoping locals would change what they see.
_DYNAMIC_SCOPE = {"locals", "vars", "dir", "eval", "exec"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FLIPPED = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE,
            ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_NEGATED = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
# Where an exception can be caught or suppressed while the function keeps running (try/except* is
# new in Python 3.11).
_GUARDS = (ast.Try, ast.With, ast.AsyncWith) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())

Func = ast.FunctionDef | ast.AsyncFunctionDef


def rewrite_function(
    func: Func, rng: random.Random, vocabulary: Sequence[str], max_rewrites: int = 3
) -> tuple[ast.AST, list[str]]:
    """Rename identifiers, then apply up to ``max_rewrites`` distinct structural rewrites."""
    new = rename_identifiers(func, rng, vocabulary)
    applied = ["rename"]
    pending = list(REWRITE_KINDS[1:])
    while pending and len(applied) <= max_rewrites:
        # Uniform over pending kinds, dropping those without sites, is uniform over applicable kinds.
        kind = rng.choice(pending)
        pending.remove(kind)
        find, apply = _REWRITES[kind]
        sites = find(new)
        if not sites:
            continue
        apply(rng.choice(sites))
        applied.append(kind)
        if _INVERSE.get(kind) in pending:  # never undo a rewrite just made
            pending.remove(_INVERSE[kind])
    return new, applied


# --- renaming -----------------------------------------------------------------------------------

def _params(func: ast.AST) -> list[ast.arg]:
    a = func.args
    return a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]


# Node type -> the field holding an identifier it spells (a name, or a list of names).
_IDENTIFIER_FIELD = {
    ast.Name: "id", ast.arg: "arg", ast.keyword: "arg", ast.Attribute: "attr", ast.alias: "asname",
    ast.Global: "names", ast.Nonlocal: "names", ast.FunctionDef: "name", ast.AsyncFunctionDef: "name",
    ast.ClassDef: "name", ast.ExceptHandler: "name", ast.MatchAs: "name", ast.MatchStar: "name",
    ast.MatchMapping: "rest",
}


def _identifiers(func: Func) -> set[str]:
    """Every identifier spelled anywhere in the function: new names must avoid all of them."""
    found = set()
    for node in ast.walk(func):
        field = _IDENTIFIER_FIELD.get(type(node))
        if field is None:
            continue
        value = getattr(node, field)
        if isinstance(value, list):
            found.update(value)
        elif value is not None:
            found.add(value)
        if isinstance(node, ast.alias):  # ``import a.b`` binds ``a``
            found.add(node.name.split(".")[0])
    return found


class _Scope:
    def __init__(self, node: ast.AST, parent: _Scope | None):
        self.node, self.parent = node, parent
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()

    def resolve(self, name: str) -> _Scope | None:
        """The scope a name refers to from here, or None for a global/builtin."""
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.declared_global:
                return None
            # Class bodies are invisible to the functions nested in them.
            visible = scope is self or not isinstance(scope.node, ast.ClassDef)
            if visible and name in scope.bound and name not in scope.declared_nonlocal:
                return scope
            scope = scope.parent
        return None


class _NameAnalysis:
    """Every variable occurrence in a function, the scope it lives in, and how each name is bound."""

    def __init__(self, func: Func):
        self.occurrences: list[tuple[str, _Scope]] = []
        self.binders: dict[str, set[str]] = {}  # name -> kinds of binding ("param", "store", ...)
        root = _Scope(func, None)
        self._bind_params(func, root, "param")
        for stmt in func.body:
            self._visit(stmt, root)

    def _bind(self, name: str, scope: _Scope, how: str) -> None:
        scope.bound.add(name)
        self.binders.setdefault(name, set()).add(how)
        self.occurrences.append((name, scope))

    def _bind_params(self, func: ast.AST, scope: _Scope, how: str) -> None:
        for arg in _params(func):
            self._bind(arg.arg, scope, how)

    def _visit(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, _FUNCS):
            if not isinstance(node, ast.Lambda):
                self._bind(node.name, scope, "def")
                self._visit_all(node.decorator_list + [node.returns], scope)
            annotations = [arg.annotation for arg in _params(node)]
            self._visit_all(node.args.defaults + node.args.kw_defaults + annotations, scope)
            inner = _Scope(node, scope)
            self._bind_params(node, inner, "nested_param")
            self._visit_all(node.body if isinstance(node.body, list) else [node.body], inner)
        elif isinstance(node, ast.ClassDef):
            self._bind(node.name, scope, "def")
            self._visit_all(node.decorator_list + node.bases + node.keywords, scope)
            self._visit_all(node.body, _Scope(node, scope))
        elif isinstance(node, _COMPS):
            self._visit(node.generators[0].iter, scope)  # evaluated in the enclosing scope
            inner = _Scope(node, scope)
            for i, gen in enumerate(node.generators):
                self._visit_all([gen.target] + ([gen.iter] if i else []) + gen.ifs, inner)
            elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            self._visit_all(elts, inner)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.occurrences.append((node.id, scope))
            else:
                self._bind(node.id, scope, "class_attr" if isinstance(scope.node, ast.ClassDef)
                           else "store")
        elif isinstance(node, ast.NamedExpr):
            # A walrus inside a comprehension binds in the enclosing function.
            target_scope = scope
            while isinstance(target_scope.node, _COMPS):
                target_scope = target_scope.parent
            self._bind(node.target.id, target_scope, "store")
            self._visit(node.value, scope)
        else:
            if isinstance(node, ast.Global):
                scope.declared_global.update(node.names)
            elif isinstance(node, ast.Nonlocal):
                scope.declared_nonlocal.update(node.names)
                self.occurrences.extend((name, scope) for name in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self._bind(node.name, scope, "store")
            elif isinstance(node, ast.alias):
                self._bind(node.asname or node.name.split(".")[0], scope, "import")
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                self._bind(node.name, scope, "match")
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self._bind(node.rest, scope, "match")
            for child in ast.iter_child_nodes(node):
                self._visit(child, scope)

    def _visit_all(self, nodes: list, scope: _Scope) -> None:
        for node in nodes:
            if node is not None:
                self._visit(node, scope)

    def renamable(self) -> list[str]:
        """Names bound only by parameters and plain bindings whose every use stays inside."""
        if any(name in _DYNAMIC_SCOPE and scope.resolve(name) is None
               for name, scope in self.occurrences):
            return []
        free = {name for name, scope in self.occurrences if scope.resolve(name) is None}
        return sorted(name for name, how in self.binders.items()
                      if how <= {"param", "store"} and name not in free
                      and not (name.startswith("__") and name.endswith("__")))


def _fresh_names(vocabulary: Sequence[str], count: int, used: set[str], rng: random.Random) -> list[str]:
    """``count`` distinct usable names drawn from the vocabulary (numbered names if it runs dry).

    Drawing by random index keeps the cost independent of the vocabulary's size."""
    fresh: list[str] = []
    for _ in range(50 * count if vocabulary else 0):
        if len(fresh) == count:
            break
        word = vocabulary[rng.randrange(len(vocabulary))]
        if (word.isidentifier() and word not in _RESERVED and not word.startswith("__")
                and word not in used and word not in fresh):
            fresh.append(word)
    taken = used | set(fresh)
    spare = (f"v{i}" for i in itertools.count(1) if f"v{i}" not in taken)
    return fresh + [next(spare) for _ in range(count - len(fresh))]


def rename_identifiers(func: Func, rng: random.Random, vocabulary: Sequence[str]) -> ast.AST:
    """Consistently rename the function, its parameters and its local variables.

    Nested functions' parameters (callable by keyword), class attributes, imports and globals are
    never renamed; a name is only renamed when every occurrence of it in the function refers to a
    binding inside the function, so renaming all occurrences keeps every reference intact.
    """
    new = clone_ast(func)
    analysis = _NameAnalysis(new)
    first = new.args.posonlyargs + new.args.args
    # A plain function calling its own name is recursion; a method calling it (or a builtin of the
    # same name) calls something else.
    recursive = (func.name not in analysis.binders and func.name not in _RESERVED
                 and not (first and first[0].arg in ("self", "cls")))
    old_names = analysis.renamable()
    if recursive:  # a recursive call passing a parameter by keyword must still name it
        keywords = {kw.arg for node in ast.walk(new) if isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name) and node.func.id == func.name
                    for kw in node.keywords}
        old_names = [name for name in old_names if name not in keywords]
    fresh = _fresh_names(vocabulary, len(old_names) + 1, _identifiers(new), rng)
    mapping = dict(zip(old_names, fresh[1:]))
    new.name = fresh[0]
    if recursive:
        mapping[func.name] = fresh[0]
    # The function's own decorators, defaults and annotations are evaluated outside it: untouched.
    for node in _params(new) + [n for stmt in new.body for n in ast.walk(stmt)]:
        if isinstance(node, ast.Name):
            node.id = mapping.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = mapping.get(node.arg, node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            node.name = mapping.get(node.name, node.name)
        elif isinstance(node, ast.Nonlocal):
            node.names = [mapping.get(n, n) for n in node.names]
    return new


# --- structural rewrites ------------------------------------------------------------------------

def _located(new: ast.AST, old: ast.AST) -> ast.AST:
    """Give a new node, and the new nodes inside it, the source position of the one it replaces."""
    return ast.fix_missing_locations(ast.copy_location(new, old))


def _blocks(func: Func) -> Iterator[tuple[list[ast.stmt], bool]]:
    """Statement lists outside class bodies, with whether an exception there could be caught
    (try) or suppressed (with) while the function keeps running."""
    stack: list[tuple[ast.AST, bool]] = [(func, False)]
    while stack:
        node, guarded = stack.pop()
        inner = guarded or isinstance(node, _GUARDS)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, field, None)
            if not isinstance(value, list) or not value:
                continue
            if isinstance(value[0], ast.stmt):
                yield value, inner
            for child in value:
                if not isinstance(child, ast.ClassDef):
                    stack.append((child, inner))


def _names(node: ast.AST) -> Counter:
    return Counter(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


class _Facts:
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
            nested = nested or isinstance(node, (*_FUNCS, ast.ClassDef))
            stack.extend((child, nested) for child in ast.iter_child_nodes(node))
        self.dynamic = bool(_DYNAMIC_SCOPE & set(self.names))

    def private(self, name: str) -> bool:
        """A plain local that no closure, global statement or locals() call can observe."""
        return not (self.dynamic or name in self.declared or name in self.in_nested_scopes)


def _simple_target(target: ast.AST) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_simple_target(t) for t in target.elts)
    return isinstance(target, ast.Name)


def _rescopable(node: ast.AST) -> bool:
    """No construct that behaves differently inside a comprehension's own scope."""
    return not any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr))
                   or (isinstance(n, ast.Name) and n.id in ("super", "__class__"))
                   for n in ast.walk(node))


def _targets_private(target: ast.AST, stmt: ast.stmt, facts: _Facts) -> bool:
    """Loop/comprehension variables that appear nowhere outside ``stmt`` (so leaking or not
    leaking them after the loop is unobservable)."""
    inside = _names(stmt)
    return all(facts.private(name) and facts.names[name] == inside[name] for name in _names(target))


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
    candidates = [(block, i) for block, guarded in _blocks(func) if not guarded
                  for i in range(len(block) - 1)
                  if (name := _empty_list_assign(block[i])) and _loop_parts(block[i + 1], name)]
    facts = _Facts(func) if candidates else None  # the costly part: only when a pattern matched
    return [(block, i) for block, i in candidates if _loop_safe(block[i], block[i + 1], facts)]


def _loop_safe(assign: ast.Assign, loop: ast.For, facts: _Facts) -> bool:
    name = assign.targets[0].id
    return (facts.private(name) and _names(loop)[name] == 1 and _simple_target(loop.target)
            and _rescopable(loop) and _targets_private(loop.target, loop, facts))


def _apply_loop_to_comprehension(site) -> None:
    block, i = site
    assign, loop = block[i], block[i + 1]
    expr, conditions = _loop_parts(loop, assign.targets[0].id)
    comp = ast.ListComp(elt=expr, generators=[
        ast.comprehension(target=loop.target, iter=loop.iter, ifs=conditions, is_async=0)])
    block[i:i + 2] = [_located(ast.Assign(targets=assign.targets, value=comp), assign)]


def _comprehension_sites(func: Func) -> list:
    candidates = [(block, i) for block, guarded in _blocks(func) if not guarded
                  for i, stmt in enumerate(block)
                  if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.ListComp)
                  and len(stmt.value.generators) == 1]
    facts = _Facts(func) if candidates else None
    return [(block, i) for block, i in candidates if _comprehension_safe(block[i], facts)]


def _comprehension_safe(assign: ast.Assign, facts: _Facts) -> bool:
    name, gen = assign.targets[0].id, assign.value.generators[0]
    return (not gen.is_async and len(gen.ifs) <= 1 and facts.private(name)
            and _names(assign.value)[name] == 0 and _simple_target(gen.target)
            and _rescopable(assign.value) and _targets_private(gen.target, assign, facts))


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
    block[i:i + 1] = [_located(empty, assign), _located(loop, assign)]


def _if_else_sites(func: Func) -> list:
    # An ``elif`` chain is left alone: swapping it would turn it into a nested if.
    return [n for n in ast.walk(func) if isinstance(n, ast.If) and n.orelse
            and not (len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If))]


def _negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    # ``not (a is b)`` is exactly ``a is not b`` (same for in); ``not (a < b)`` is not ``a >= b``
    # for NaN or sets, so other comparisons get a plain ``not``.
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _NEGATED:
        return ast.Compare(test.left, [_NEGATED[type(test.ops[0])]()], test.comparators)
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _apply_if_else_swap(node: ast.If) -> None:
    node.test = _located(_negate(node.test), node.test)
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
    facts = _Facts(func)
    # Every binding of the name must be a constant one (no for target, unpacking, walrus, ...).
    return {name for name, count in constant_bindings.items()
            if count == stores[name] and name not in params and facts.private(name)}


def _augassign_sites(func: Func) -> list:
    return _immutable_targets(func, [
        (block, i) for block, _ in _blocks(func) for i, stmt in enumerate(block)
        if isinstance(stmt, ast.AugAssign) and _constant_binding(stmt)])


def _immutable_targets(func: Func, candidates: list) -> list:
    names = _immutable_locals(func) if candidates else set()
    return [(block, i) for block, i in candidates if _constant_binding(block[i]) in names]


def _apply_augassign_expand(site) -> None:
    block, i = site
    node = block[i]
    value = ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value)
    block[i] = _located(ast.Assign(targets=[node.target], value=value), node)


def _contract_sites(func: Func) -> list:
    return _immutable_targets(func, [
        (block, i) for block, _ in _blocks(func) for i, stmt in enumerate(block)
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.BinOp)
        and _constant_binding(stmt)])


def _apply_augassign_contract(site) -> None:
    block, i = site
    node = block[i]
    new = ast.AugAssign(target=node.targets[0], op=node.value.op, value=node.value.right)
    block[i] = _located(new, node)


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
_REWRITES = {
    "if_else_swap": (_if_else_sites, _apply_if_else_swap),
    "loop_to_comprehension": (_loop_sites, _apply_loop_to_comprehension),
    "comprehension_to_loop": (_comprehension_sites, _apply_comprehension_to_loop),
    "augassign_expand": (_augassign_sites, _apply_augassign_expand),
    "augassign_contract": (_contract_sites, _apply_augassign_contract),
    "compare_flip": (_compare_sites, _apply_compare_flip),
}
