"""The fixed edge vocabulary of a code property graph (ids are positions in ``EDGE_TYPES``)."""
from __future__ import annotations

# Bump when the graphs built for the same source change (part of every graph cache key).
BUILDER_VERSION = 1

EDGE_TYPES: tuple[str, ...] = (
    "ast_child",      # parent -> named child
    "ast_sibling",    # named child -> its next named sibling
    "cfg_next",       # sequential control flow (also: unit entry -> first statement)
    "cfg_true",       # condition holds: if/elif/loop header -> body, switch -> case, case -> body
    "cfg_false",      # condition fails: header -> else branch / code after the statement
    "cfg_back",       # loop body end -> loop header (for-update, do-while: -> body start)
    "cfg_break",      # break -> code after the loop/switch
    "cfg_continue",   # continue -> loop header (or the for-update)
    "cfg_return",     # return -> the enclosing unit (function/class/module) node, standing for its exit
    "cfg_raise",      # raise/throw -> the enclosing unit node
    "cfg_goto",       # C goto -> its labeled statement
    "cfg_exception",  # try -> each except/catch handler
    "data_dep",       # defining identifier -> using identifier, for each reaching definition
)
EDGE_ID: dict[str, int] = {name: i for i, name in enumerate(EDGE_TYPES)}
