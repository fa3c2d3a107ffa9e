"""Flatten a tree-sitter tree into the graph's node arrays and its AST edges.

Nodes are the tree's named nodes in pre-order (a parent before its children, children in source
order). Truncation rule: only the first ``max_nodes`` of them are kept, so every kept node's
ancestors are kept too and the kept graph is the connected top of the tree; ``truncated`` says
that nodes were left out. Anonymous tokens are skipped; a named node under an anonymous one
hangs from the nearest named ancestor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import tree_sitter

from codereuse.graphs.languages import ERROR, ERROR_KIND_ID, UNKNOWN, kind_tables
from codereuse.graphs.schema import EDGE_ID

AST_CHILD, AST_SIBLING = EDGE_ID["ast_child"], EDGE_ID["ast_sibling"]


@dataclass
class FlatTree:
    source: bytes
    types: list[str] = field(default_factory=list)      # grammar node type per graph node
    vocab: list[int] = field(default_factory=list)      # NODE_TYPES id per graph node
    start: list[int] = field(default_factory=list)      # byte offsets into source
    end: list[int] = field(default_factory=list)
    fields: list[str | None] = field(default_factory=list)  # field name under the parent
    children: list[list[int]] = field(default_factory=list)
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.types)

    def text(self, i: int) -> bytes:
        return self.source[self.start[i]:self.end[i]]

    def child(self, i: int, name: str) -> int | None:
        for c in self.children[i]:
            if self.fields[c] == name:
                return c
        return None

    def field_children(self, i: int, name: str) -> list[int]:
        return [c for c in self.children[i] if self.fields[c] == name]


def flatten(tree: tree_sitter.Tree, source: bytes, language: str, max_nodes: int,
            edges: list[tuple[int, int, int]]) -> FlatTree:
    """Walk ``tree`` once with a cursor, appending AST child/sibling edges to ``edges``."""
    vocab_of_kind, name_of_kind = kind_tables(language)
    n_kinds = len(vocab_of_kind)
    flat = FlatTree(source)
    types, vocab, start, end, fields, children = (flat.types, flat.vocab, flat.start, flat.end,
                                                  flat.fields, flat.children)
    ancestors: list[int] = []  # per cursor depth: the graph index of the nearest named ancestor
    cursor = tree.walk()
    # bound methods: this loop runs once per tree node and dominates graph construction
    first_child, next_sibling, up = cursor.goto_first_child, cursor.goto_next_sibling, cursor.goto_parent
    add_edge, push, pop = edges.append, ancestors.append, ancestors.pop
    while True:
        node = cursor.node
        here = ancestors[-1] if ancestors else -1
        if node.is_named:
            index = len(types)
            if index >= max_nodes:
                flat.truncated = True
                break
            kind = node.kind_id
            if kind < n_kinds:
                types.append(name_of_kind[kind])
                vocab.append(vocab_of_kind[kind])
            else:
                types.append("ERROR")
                vocab.append(ERROR if kind == ERROR_KIND_ID else UNKNOWN)
            start.append(node.start_byte)
            end.append(node.end_byte)
            fields.append(cursor.field_name)
            children.append([])
            if here >= 0:
                siblings = children[here]
                add_edge((here, index, AST_CHILD))
                if siblings:
                    add_edge((siblings[-1], index, AST_SIBLING))
                siblings.append(index)
            here = index
        if first_child():
            push(here)
            continue
        while not next_sibling():
            if not up():
                return flat
            pop()
    return flat
