"""Statement-level control-flow graph of every unit (module, class, function, method, block lambda).

CFG nodes are graph nodes: a simple statement stands for itself, a compound statement's node
stands for its header (the condition of an if/while/for/switch, the test of a do-while), a unit's
node is both its entry and -- as the target of return/raise -- its exit. Falling off the end of a
unit adds no edge. Each unit is its own CFG: a nested definition is one simple statement of the
enclosing unit. Approximations, stated: a try node branches (cfg_exception) to each handler
rather than every statement in its body; finally runs after the body/handlers' normal exits only;
statements cut by truncation are skipped (the flow continues at the next kept node).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codereuse.graphs.ast_edges import FlatTree
from codereuse.graphs.rules import Rules
from codereuse.graphs.schema import EDGE_ID

NEXT, TRUE, FALSE, BACK = EDGE_ID["cfg_next"], EDGE_ID["cfg_true"], EDGE_ID["cfg_false"], EDGE_ID["cfg_back"]
BREAK, CONTINUE, RETURN = EDGE_ID["cfg_break"], EDGE_ID["cfg_continue"], EDGE_ID["cfg_return"]
RAISE, GOTO, EXCEPTION = EDGE_ID["cfg_raise"], EDGE_ID["cfg_goto"], EDGE_ID["cfg_exception"]

Pending = list[tuple[int, int]]  # (source node, edge type) waiting for the next CFG node


@dataclass
class UnitFlow:
    entry: int
    nodes: list[int] = field(default_factory=list)        # CFG nodes, entry first
    roles: dict[int, str] = field(default_factory=dict)   # CFG node -> role within this unit
    succ: dict[int, list[int]] = field(default_factory=dict)  # without edges back into the entry


@dataclass
class _Jump:
    """An enclosing loop, switch or label: where break and continue go."""
    kind: str  # loop | switch | label
    label: bytes | None = None
    continue_to: int | None = None
    breaks: Pending = field(default_factory=list)


def find_units(flat: FlatTree, rules: Rules) -> list[int]:
    """Unit nodes in pre-order; the root is always one. A lambda with an expression body is not."""
    units = [0]
    for i in range(1, len(flat)):
        unit = rules.units.get(flat.types[i])
        if unit is not None:
            body = flat.child(i, unit.body) if unit.body else None
            if body is None or rules.role(flat.types[body]) == "block":
                units.append(i)
    return units


class FlowBuilder:
    def __init__(self, flat: FlatTree, rules: Rules, edges: list[tuple[int, int, int]]):
        self.flat, self.rules, self.edges = flat, rules, edges
        self.units = find_units(flat, rules)
        self.unit_set = set(self.units)

    def build(self) -> list[UnitFlow]:
        return [self._unit(u) for u in self.units]

    def _unit(self, entry: int) -> UnitFlow:
        self.flow = UnitFlow(entry, [entry], {entry: "entry"})
        self.jumps: list[_Jump] = []
        self.labels: dict[bytes, int] = {}
        self.gotos: list[tuple[int, bytes]] = []
        rule = self.rules.units.get(self.flat.types[entry])
        if rule is None or rule.body is None:  # the root, or an ERROR root: its children are the body
            self._sequence(self.flat.children[entry], [(entry, NEXT)])
        else:
            self._visit(self.flat.child(entry, rule.body), [(entry, NEXT)])
        for source, label in self.gotos:
            if label in self.labels:
                self._edge(source, self.labels[label], GOTO)
        return self.flow

    # --- plumbing -------------------------------------------------------------------------
    def _edge(self, source: int, target: int, kind: int) -> None:
        self.edges.append((source, target, kind))
        if target != self.flow.entry:  # return/raise edges lead out of the unit, not into its flow
            self.flow.succ.setdefault(source, []).append(target)

    def _connect(self, pending: Pending, node: int, role: str) -> None:
        for source, kind in pending:
            self._edge(source, node, kind)
        self.flow.nodes.append(node)
        self.flow.roles[node] = role

    def _close_loop(self, pending: Pending, header: int) -> None:
        for source, _ in pending:
            self._edge(source, header, BACK)

    def _sequence(self, nodes: list[int], pending: Pending) -> Pending:
        for node in nodes:
            pending = self._visit(node, pending)
        return pending

    def _statements_of(self, node: int) -> list[int]:
        """Children of ``node`` that are statements (blocks are walked through)."""
        return [c for c in self.flat.children[node] if self.rules.role(self.flat.types[c]) == "block"]

    def _innermost(self, kinds: tuple[str, ...], label: bytes | None) -> _Jump | None:
        for depth in range(len(self.jumps) - 1, -1, -1):
            jump = self.jumps[depth]
            if label is not None and jump.label == label:
                if "loop" in kinds and jump.kind == "label":  # continue <label>: the loop it labels
                    inner = [j for j in self.jumps[depth + 1:] if j.kind == "loop"]
                    return inner[0] if inner else None
                return jump
            if label is None and jump.kind in kinds:
                return jump
        return None

    def _label(self, node: int) -> bytes | None:
        for c in self.flat.children[node]:
            if self.flat.types[c] in ("identifier", "statement_identifier"):
                return self.flat.text(c)
        return None

    # --- statements -----------------------------------------------------------------------
    def _visit(self, node: int | None, pending: Pending) -> Pending:
        if node is None:
            return pending
        node_type = self.flat.types[node]
        if node_type in self.rules.skip:
            return pending
        if node in self.unit_set:  # a nested definition: one statement here, its own CFG elsewhere
            self._connect(pending, node, "unit")
            return [(node, NEXT)]
        role = self.rules.role(node_type)
        method = getattr(self, "_" + role, None)
        if method is None:
            self._connect(pending, node, role)
            return [(node, NEXT)]
        return method(node, pending)

    def _block(self, node: int, pending: Pending) -> Pending:
        return self._sequence(self.flat.children[node], pending)

    def _if(self, node: int, pending: Pending, role: str = "if") -> Pending:
        flat = self.flat
        self._connect(pending, node, role)
        exits = self._visit(flat.child(node, "consequence"), [(node, TRUE)])
        otherwise: Pending = [(node, FALSE)]
        for alternative in flat.field_children(node, "alternative"):
            alternative_type = flat.types[alternative]
            if alternative_type == self.rules.elif_type:
                self._connect(otherwise, alternative, "elif")
                exits += self._visit(flat.child(alternative, "consequence"), [(alternative, TRUE)])
                otherwise = [(alternative, FALSE)]
            elif alternative_type == self.rules.else_type:
                exits += self._sequence(flat.children[alternative], otherwise)
                otherwise = []
            else:
                exits += self._visit(alternative, otherwise)
                otherwise = []
        return exits + otherwise

    def _loop(self, continue_to: int) -> _Jump:
        jump = _Jump("loop", continue_to=continue_to)
        self.jumps.append(jump)
        return jump

    def _while(self, node: int, pending: Pending, role: str = "while") -> Pending:
        flat = self.flat
        self._connect(pending, node, role)
        jump = self._loop(node)
        self._close_loop(self._visit(flat.child(node, "body"), [(node, TRUE)]), node)
        self.jumps.pop()
        exits: Pending = [(node, FALSE)]
        otherwise = flat.child(node, "alternative")  # Python's loop-else runs when the test fails
        if otherwise is not None:
            exits = self._sequence(flat.children[otherwise], exits)
        return exits + jump.breaks

    def _for(self, node: int, pending: Pending) -> Pending:
        return self._while(node, pending, "for")

    def _cfor(self, node: int, pending: Pending) -> Pending:
        flat = self.flat
        for name in self.rules.loop_init:
            for init in flat.field_children(node, name):
                self._connect(pending, init, "simple")
                pending = [(init, NEXT)]
        self._connect(pending, node, "cfor")
        updates = flat.field_children(node, self.rules.loop_update)
        jump = self._loop(updates[0] if updates else node)
        exits = self._visit(flat.child(node, "body"), [(node, TRUE)])
        self.jumps.pop()
        for update in updates:
            self._connect(exits, update, "simple")
            exits = [(update, NEXT)]
        self._close_loop(exits, node)
        return [(node, FALSE)] + jump.breaks

    def _do(self, node: int, pending: Pending) -> Pending:
        jump = self._loop(node)
        exits = self._visit(self.flat.child(node, "body"), pending + [(node, BACK)])
        self.jumps.pop()
        self._connect(exits, node, "do")
        return [(node, FALSE)] + jump.breaks

    def _switch(self, node: int, pending: Pending) -> Pending:
        flat, rules = self.flat, self.rules
        self._connect(pending, node, "switch")
        body = flat.child(node, "body")
        jump = _Jump("switch")
        self.jumps.append(jump)
        exits: Pending = []
        fall: Pending = []
        has_default = False
        for case in flat.children[body] if body is not None else []:
            if flat.types[case] not in rules.case_types:
                continue
            labels = [c for c in flat.children[case]
                      if flat.fields[c] == rules.case_label or flat.types[c] == rules.case_label]
            has_default |= not labels or any(flat.types[c] == rules.case_label and not flat.children[c]
                                             for c in labels)
            self._connect([(node, TRUE)] + fall, case, "case")
            out = self._sequence([c for c in flat.children[case] if c not in labels], [(case, TRUE)])
            if flat.types[case] in rules.fallthrough:
                fall = out
            else:
                exits += out
        self.jumps.pop()
        return exits + fall + ([] if has_default else [(node, FALSE)]) + jump.breaks

    def _match(self, node: int, pending: Pending) -> Pending:
        flat = self.flat
        self._connect(pending, node, "match")
        body = flat.child(node, "body")
        exits: Pending = []
        otherwise: Pending = [(node, NEXT)]
        for case in flat.children[body] if body is not None else []:
            if flat.types[case] in self.rules.case_types:
                self._connect(otherwise, case, "case")
                otherwise, taken = [(case, FALSE)], [(case, TRUE)]
                guard = flat.child(case, "guard")  # its own node: it runs after the captures bind
                if guard is not None:
                    self._connect(taken, guard, "guard")
                    otherwise, taken = otherwise + [(guard, FALSE)], [(guard, TRUE)]
                exits += self._visit(flat.child(case, "consequence"), taken)
        return exits + otherwise

    def _try(self, node: int, pending: Pending) -> Pending:
        flat, rules = self.flat, self.rules
        self._connect(pending, node, "try")
        exits = self._visit(flat.child(node, "body"), [(node, NEXT)])
        handled: Pending = []
        final: int | None = None
        for part in flat.children[node]:
            part_type = flat.types[part]
            if part_type in rules.handler_types:
                self._connect([(node, EXCEPTION)], part, "handler")
                handled += self._sequence(self._statements_of(part), [(part, NEXT)])
            elif part_type == rules.else_type:
                exits = self._sequence(flat.children[part], exits)
            elif part_type == "finally_clause":
                final = part
        exits += handled
        if final is not None:
            exits = self._sequence(self._statements_of(final), exits)
        return exits

    def _with(self, node: int, pending: Pending) -> Pending:
        self._connect(pending, node, "with")
        return self._visit(self.flat.child(node, "body"), [(node, NEXT)])

    def _labeled(self, node: int, pending: Pending) -> Pending:
        flat = self.flat
        self._connect(pending, node, "labeled")
        label = self._label(node)
        if label is not None:
            self.labels[label] = node
        jump = _Jump("label", label=label)
        self.jumps.append(jump)
        inner = [c for c in flat.children[node] if flat.types[c] not in ("identifier", "statement_identifier")]
        exits = self._sequence(inner, [(node, NEXT)])
        self.jumps.pop()
        return exits + jump.breaks

    def _return(self, node: int, pending: Pending, kind: int = RETURN, role: str = "return") -> Pending:
        self._connect(pending, node, role)
        self._edge(node, self.flow.entry, kind)
        return []

    def _raise(self, node: int, pending: Pending) -> Pending:
        return self._return(node, pending, RAISE, "raise")

    def _break(self, node: int, pending: Pending) -> Pending:
        self._connect(pending, node, "break")
        jump = self._innermost(("loop", "switch"), self._label(node))
        if jump is not None:
            jump.breaks.append((node, BREAK))
        return []

    def _continue(self, node: int, pending: Pending) -> Pending:
        self._connect(pending, node, "continue")
        jump = self._innermost(("loop",), self._label(node))
        if jump is not None and jump.continue_to is not None:
            self._edge(node, jump.continue_to, CONTINUE)
        return []

    def _goto(self, node: int, pending: Pending) -> Pending:
        self._connect(pending, node, "goto")
        label = self._label(node)
        if label is not None:
            self.gotos.append((node, label))
        return []
