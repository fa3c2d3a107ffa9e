"""Semantics-preserving rewrites of a function: the positives of the ``clone`` task.

Every rewrite must keep behaviour identical, so each one only fires on patterns where that is
provable from the syntax alone; when in doubt a site is skipped rather than risked. The rewrites
live in :mod:`.rewrite_forms` (equivalent forms of one statement) and :mod:`.rewrite_flow`
(control flow and statement order); renaming in :mod:`.rename`.
"""
from __future__ import annotations

import ast
import random
from collections.abc import Sequence

from .mutate import clone_ast
from .rename import Func, rename_identifiers
from .rewrite_flow import FLOW
from .rewrite_forms import FORMS

__all__ = ["REWRITE_KINDS", "STRUCTURAL_KINDS", "rename_identifiers", "rewrite_function"]

# kind -> (find the sites in a function, apply the rewrite at one site)
_REWRITES = {**FORMS, **FLOW}
STRUCTURAL_KINDS: tuple[str, ...] = tuple(_REWRITES)
REWRITE_KINDS: tuple[str, ...] = ("rename", *STRUCTURAL_KINDS)
_PAIRS = [("loop_to_comprehension", "comprehension_to_loop"), ("augassign_expand", "augassign_contract"),
          ("for_to_while", "while_to_for"), ("guard_to_else", "else_to_guard"), ("ternary_to_if", "if_to_ternary")]
_INVERSE = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}


def rewrite_function(
    func: Func, rng: random.Random, vocabulary: Sequence[str], max_rewrites: int = 3, rename: bool = True,
) -> tuple[ast.AST, list[str]]:
    """Rename identifiers (unless ``rename`` is false), then apply up to ``max_rewrites`` distinct
    structural rewrites; returns the new function and the kinds applied ("rename" first)."""
    new = rename_identifiers(func, rng, vocabulary) if rename else clone_ast(func)
    applied = ["rename"] if rename else []
    pending = list(STRUCTURAL_KINDS)
    structural = 0
    while pending and structural < max_rewrites:
        # Uniform over pending kinds, dropping those without sites, is uniform over applicable kinds.
        kind = rng.choice(pending)
        pending.remove(kind)
        find, apply = _REWRITES[kind]
        sites = find(new)
        if not sites:
            continue
        apply(rng.choice(sites))
        applied.append(kind)
        structural += 1
        if _INVERSE.get(kind) in pending:  # never undo a rewrite just made
            pending.remove(_INVERSE[kind])
    return new, applied
