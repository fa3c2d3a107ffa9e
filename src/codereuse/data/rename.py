"""Consistent renaming of a function's own identifiers (its name, parameters and locals).

Used on both sides of every ``clone`` pair, so identifiers never tell a clone from a non-clone.
A name is only renamed when every occurrence of it provably refers to a binding inside the
function; functions are treated as standalone units, so renaming one also renames its recursive
calls.
"""
from __future__ import annotations

import ast
import builtins
import itertools
import keyword
import random
from collections.abc import Sequence

from codereuse.data.mutate import clone_ast

RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
# Calls that see local variables by name: renaming or re-scoping locals would change what they see.
DYNAMIC_SCOPE = {"locals", "vars", "dir", "eval", "exec"}
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

Func = ast.FunctionDef | ast.AsyncFunctionDef


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
        if isinstance(node, FUNCS):
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
        elif isinstance(node, COMPS):
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
            while isinstance(target_scope.node, COMPS):
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
        if any(name in DYNAMIC_SCOPE and scope.resolve(name) is None
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
        if (word.isidentifier() and word not in RESERVED and not word.startswith("__")
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
    recursive = (func.name not in analysis.binders and func.name not in RESERVED
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
