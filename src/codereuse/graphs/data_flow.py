"""Data-dependence edges: reaching definitions over each unit's statement-level CFG.

A variable is an identifier's text within one unit (nested definitions have their own unit, and
closures are not followed). Each CFG node's *own* parts (a statement, or a compound statement's
header) give its definitions and uses; a use at node n depends on every definition of the same
name that reaches n's entry, so a statement's uses never see its own definitions (``x = x + 1``).
Definitions: assignment targets (``+=`` also uses), declarations, loop/with/except/catch targets,
parameters (at the unit's entry), imports, match captures, walrus names, a nested def/class name.
"""
from __future__ import annotations

from codereuse.graphs.ast_edges import FlatTree
from codereuse.graphs.control_flow import UnitFlow
from codereuse.graphs.rules import Rules
from codereuse.graphs.schema import EDGE_ID

DATA_DEP = EDGE_ID["data_dep"]
USE, DEF, PATTERN = 0, 1, 2
_HEADER_EXCLUDED = frozenset({"body", "consequence", "alternative", "update", "init", "initializer"})
_EMPTY: frozenset[bytes] = frozenset()
Names = list[tuple[bytes, int]]  # (variable name, identifier node)


class NameCollector:
    """Walks expression subtrees (iteratively: expressions nest deeply) collecting defs and uses."""

    def __init__(self, flat: FlatTree, rules: Rules, units: set[int]):
        self.flat, self.rules, self.units = flat, rules, units

    def collect(self, roots: list[tuple[int, int]]) -> tuple[Names, Names]:
        flat, rules = self.flat, self.rules
        types, fields, children = flat.types, flat.fields, flat.children
        uses: Names = []
        defs: Names = []
        stack = [(node, mode, _EMPTY) for node, mode in reversed(roots)]
        while stack:
            node, mode, bound = stack.pop()
            node_type = types[node]
            if node_type == "identifier":
                name = flat.text(node)
                if name not in bound:
                    (defs if mode == DEF else uses).append((name, node))
                continue
            if node in self.units:  # a nested definition: only the name it binds belongs here
                unit = rules.units[node_type]
                if unit.name:
                    stack.extend((c, DEF, bound) for c in flat.field_children(node, unit.name))
                continue
            if node_type in rules.skip:
                continue
            kids = children[node]
            if mode == PATTERN:
                stack.extend(self._pattern(node, node_type, kids, bound))
            elif node_type in rules.binders:
                binding = rules.binders[node_type]
                stack.extend((c, DEF if fields[c] == binding else USE, bound) for c in reversed(kids))
            elif mode == DEF:
                if node_type in rules.def_containers:  # a, (b, *c) = ...
                    stack.extend((c, DEF, bound) for c in reversed(kids))
                else:  # x.a = .. / x[i] = ..: a use of x, not a definition
                    stack.append((node, USE, bound))
            elif node_type in rules.assign:
                target, value, kind = rules.assign[node_type]
                also_use = kind == "aug" or (kind == "op" and self._operator(node) != b"=")
                for c in reversed(kids):
                    if fields[c] == target:
                        stack.append((c, DEF, bound))
                        if also_use:
                            stack.append((c, USE, bound))
                    elif fields[c] not in _HEADER_EXCLUDED:
                        stack.append((c, USE, bound))
            elif node_type in rules.update:
                for c in kids:
                    stack.extend(((c, DEF, bound), (c, USE, bound)))
            elif node_type in rules.restrict:
                allowed = rules.restrict[node_type]
                stack.extend((c, USE, bound) for c in reversed(kids) if fields[c] in allowed)
            elif node_type in rules.scopes:
                inner = bound | self._scope_names(node, rules.scopes[node_type])
                stack.extend((c, USE, inner) for c in reversed(kids))
            else:
                stack.extend((c, USE, bound) for c in reversed(kids))
        return uses, defs

    def _operator(self, node: int) -> bytes:
        """The assignment operator: the source between the target's end and the value's start."""
        flat = self.flat
        kids = flat.children[node]
        if len(kids) < 2:
            return b"="
        return flat.source[flat.end[kids[0]]:flat.start[kids[-1]]].strip()

    def _scope_names(self, node: int, name_field: str) -> frozenset[bytes]:
        """Names a lambda (its parameters) or a comprehension (its for-targets) binds locally."""
        flat = self.flat
        if name_field:
            roots = flat.field_children(node, name_field)
        else:
            roots = [t for c in flat.children[node] if flat.types[c] == "for_in_clause"
                     for t in flat.field_children(c, "left")]
        names = set()
        stack = list(roots)
        while stack:
            current = stack.pop()
            if flat.types[current] == "identifier":
                names.add(flat.text(current))
            else:
                stack.extend(flat.children[current])
        return frozenset(names)

    def _pattern(self, node, node_type, kids, bound):
        """Python match patterns: bare names capture (define); dotted names and classes are used."""
        types, children = self.flat.types, self.flat.children

        def capture(c: int) -> int | None:  # a one-name dotted_name is a capture: `case x` / `k=x`
            return children[c][0] if types[c] == "dotted_name" and len(children[c]) == 1 else None

        if node_type == "case_pattern" and len(kids) == 1 and capture(kids[0]) is not None:
            return [(capture(kids[0]), DEF, bound)]
        if node_type == "dotted_name":  # Color.RED: a value pattern, using Color
            return [(c, USE, bound) for c in kids]
        if node_type == "keyword_pattern":  # the keyword itself names an attribute, not a variable
            return [(capture(c), DEF, bound) if capture(c) is not None else (c, PATTERN, bound)
                    for c in kids[1:]]
        if node_type == "class_pattern":
            return [(c, USE if types[c] == "dotted_name" else PATTERN, bound) for c in kids]
        capture = node_type in ("splat_pattern", "as_pattern")
        return [(c, DEF if capture and types[c] == "identifier" else PATTERN, bound) for c in kids]


def own_parts(flat: FlatTree, rules: Rules, node: int, role: str, entry: int) -> list[tuple[int, int]]:
    """The (subtree, mode) roots whose names belong to CFG node ``node`` itself."""
    node_type = flat.types[node]
    if node == entry:
        unit = rules.units.get(node_type)
        params = flat.child(node, unit.params) if unit is not None and unit.params else None
        while params is not None and flat.types[params].endswith("declarator"):  # C: int (*f)(int a)
            inner = flat.child(params, "parameters" if flat.types[params] == "function_declarator"
                               else "declarator")
            params = inner
        return [] if params is None else [(params, DEF)]
    if role in ("simple", "return", "raise", "guard", "unit"):
        return [(node, USE)]
    if role == "import":
        return [(c, DEF) for c in _import_names(flat, node)]
    if role == "case":
        return [(c, PATTERN if flat.types[c] == "case_pattern" else USE) for c in flat.children[node]
                if flat.fields[c] == rules.case_label or flat.types[c] in (rules.case_label, "case_pattern")]
    if role in ("if", "elif", "while", "for", "cfor", "do", "switch", "match", "with", "handler", "try"):
        assign = rules.assign.get(node_type)
        parts = []
        for c in flat.children[node]:
            if flat.fields[c] in _HEADER_EXCLUDED or rules.role(flat.types[c]) == "block" \
                    or flat.types[c] in rules.handler_types or flat.types[c] in ("else_clause", "finally_clause"):
                continue
            parts.append((c, DEF if assign is not None and flat.fields[c] == assign[0] else USE))
        return parts
    return []  # break, continue, goto, labels, global/nonlocal


def _import_names(flat: FlatTree, node: int) -> list[int]:
    """``import a.b`` binds a; ``import a as b`` / ``from m import a as b`` bind b."""
    names = []
    for c in flat.field_children(node, "name"):
        if flat.types[c] == "aliased_import":
            c = flat.child(c, "alias")
        elif flat.types[c] == "dotted_name" and flat.children[c]:
            c = flat.children[c][0]
        if c is not None and flat.types[c] == "identifier":
            names.append(c)
    return names


def add_data_edges(flat: FlatTree, rules: Rules, flows: list[UnitFlow],
                   edges: list[tuple[int, int, int]]) -> None:
    collector = NameCollector(flat, rules, {f.entry for f in flows})
    for flow in flows:
        _reaching_definitions(flat, rules, flow, collector, edges)


def _reaching_definitions(flat, rules, flow: UnitFlow, collector: NameCollector, edges) -> None:
    definitions: list[int] = []          # bit k <-> the identifier node of definition k
    gen: dict[int, int] = {}
    defined: dict[int, set[bytes]] = {}
    uses: dict[int, Names] = {}
    name_mask: dict[bytes, int] = {}
    for node in flow.nodes:
        node_uses, node_defs = collector.collect(own_parts(flat, rules, node, flow.roles[node], flow.entry))
        uses[node] = node_uses
        bits = 0
        for name, ident in node_defs:
            bit = 1 << len(definitions)
            definitions.append(ident)
            name_mask[name] = name_mask.get(name, 0) | bit
            bits |= bit
        gen[node] = bits
        defined[node] = {name for name, _ in node_defs}
    if not definitions:
        return
    kill = {node: sum_masks(name_mask, names) & ~gen[node] for node, names in defined.items()}
    preds: dict[int, list[int]] = {node: [] for node in flow.nodes}
    for source, targets in flow.succ.items():
        for target in targets:
            preds[target].append(source)
    reach_in = dict.fromkeys(flow.nodes, 0)
    reach_out = dict(gen)
    work = list(reversed(flow.nodes))
    queued = set(work)
    while work:
        node = work.pop()
        queued.discard(node)
        incoming = 0
        for p in preds[node]:
            incoming |= reach_out[p]
        reach_in[node] = incoming
        out = gen[node] | (incoming & ~kill[node])
        if out != reach_out[node]:
            reach_out[node] = out
            for s in flow.succ.get(node, ()):
                if s not in queued:
                    queued.add(s)
                    work.append(s)
    for node in flow.nodes:
        incoming = reach_in[node]
        if not incoming:
            continue
        for name, ident in uses[node]:
            mask = incoming & name_mask.get(name, 0)
            while mask:
                low = mask & -mask
                edges.append((definitions[low.bit_length() - 1], ident, DATA_DEP))
                mask ^= low


def sum_masks(name_mask: dict[bytes, int], names: set[bytes]) -> int:
    total = 0
    for name in names:
        total |= name_mask[name]
    return total
