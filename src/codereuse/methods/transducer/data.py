"""Per-row graph fields for the transducer (the data module's ``row_fields`` hook).

For every graphed text field of a task (the code side; a seq2seq source) each encoded row gets
``<field>_graph``: the field's code property graph (built once per dataset by
``codereuse.graphs.cached_graphs``) carrying its text's tokens (``token_ids``, ``num_tokens``) and,
per node, the range of those tokens inside the node's span (``token_range``), which the GVE
averages. Each distinct text of a split is built and tokenised once, a pair's two sides together,
and the rows holding it share that one graph. The tokens are of the whole text (no truncation, no
special tokens), so nodes beyond the backbone's ``max_length`` still get text features.
``needs_offsets`` makes the rows carry every token's character offsets, which the fusion layer
aligns to node spans.
"""
from __future__ import annotations

import random

import torch

from codereuse.data.functions import FunctionTable
from codereuse.families import family as task_family

LANGUAGES = {"translate": "java"}  # the source language per task; embedded tasks are Python


def task_language(task_name: str) -> str:
    return LANGUAGES.get(task_name, "python")


class GraphFields:
    needs_offsets = True

    def __init__(self, tokenizer, family: str, language: str, max_nodes: int, shuffle: bool = False,
                 cache_dir: str | None = None, progress: bool = True) -> None:
        self.tokenizer, self.fields, self.language = tokenizer, task_family(family).code_fields, language
        self.max_nodes, self.shuffle, self.cache_dir, self.progress = max_nodes, shuffle, cache_dir, progress

    def __call__(self, split: str, records: list[dict], rows: list[dict]) -> None:
        functions = FunctionTable(record[field] for field in self.fields for record in records)
        graphs = self.graphs(functions.texts)
        for field in self.fields:
            per_row = [graphs[i] for i in functions.ids(record[field] for record in records)]
            if self.shuffle:  # a derangement of rows (not of functions), as without the table
                per_row = [per_row[i] for i in derangement(len(per_row), f"{split}/{field}")]
            for row, graph in zip(rows, per_row):
                row[f"{field}_graph"] = graph

    def graphs(self, codes: list[str]) -> list:
        """The graph of each of ``codes`` carrying its text's tokens (``with_tokens``)."""
        from codereuse.graphs import cached_graphs

        graphs = cached_graphs(codes, self.language, self.max_nodes, cache_dir=self.cache_dir, progress=self.progress)
        tokens = self.tokenizer(codes, add_special_tokens=False, return_offsets_mapping=True)
        return [with_tokens(g, ids, offsets) for g, ids, offsets in zip(graphs, tokens["input_ids"], tokens["offset_mapping"])]


def with_tokens(graph, token_ids: list[int], offsets: list[tuple[int, int]]):
    """A copy of ``graph`` with its text's tokens and each node's token range [lo, hi): the tokens
    whose last character lies in the node's span [start, end) (offsets ends are non-decreasing)."""
    graph = graph.clone()
    ends = torch.tensor([end for _, end in offsets], dtype=torch.long)
    span = graph.span.long()
    lo = torch.searchsorted(ends, span[:, 0].contiguous(), right=True)  # first token ending after start
    hi = torch.searchsorted(ends, span[:, 1].contiguous(), right=True)  # first token ending after end
    graph.token_ids = torch.tensor(token_ids, dtype=torch.long)
    graph.num_tokens = torch.tensor([len(token_ids)], dtype=torch.long)
    graph.token_range = torch.stack([lo, torch.maximum(hi, lo)], dim=1)
    return graph


def derangement(size: int, salt: str) -> list[int]:
    """A seeded permutation without fixed points (for size > 1): a random cycle through all rows."""
    order = list(range(size))
    random.Random(salt).shuffle(order)
    result = list(range(size))
    for position, row in enumerate(order):
        result[row] = order[(position + 1) % size]
    return result
