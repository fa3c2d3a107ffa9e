"""``search``: natural-language query -> code retrieval (CodeSearchNet-style).

The pairs of ``summarize``, turned round: the query is the first sentence of a docstring, the code
is its function with the docstring removed; each query's correct candidate is its own function
(MRR is computed by the model side). Derived from the built ``summarize`` task rather than built
again, so both always hold the same pairs.

Options: those of ``summarize`` (min_words, max_functions), applied to the shared pairs.
"""
from __future__ import annotations

from ..types import TaskData
from . import summarize

FAMILY = "retrieval"
SCOPE = summarize.SCOPE
VERSION = summarize.VERSION
OPTIONS = dict(summarize.OPTIONS)
check_options = summarize.check_options
DERIVED_FROM = "summarize"


def derive(base: TaskData) -> tuple[dict[str, list[dict]], None]:
    splits = {split: [{"query": r["target"], "code": r["source"], "file": r["file"], "name": r["name"]}
                      for r in rows] for split, rows in base.splits.items()}
    return splits, None
