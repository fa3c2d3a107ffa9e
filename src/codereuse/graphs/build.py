"""``build_graph``: source code -> a typed code property graph as a torch_geometric ``Data``.

Pipeline: tree-sitter parse -> named nodes in pre-order with AST edges (ast_edges) -> per-unit
control flow (control_flow) -> reaching-definitions data dependence (data_flow). Any string
yields a graph: syntax errors keep tree-sitter's ERROR nodes, empty input gives the root alone.
Workers exchange compact ``GraphRecord`` arrays, never tensors (no shared-memory handles).
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Data
from tqdm.auto import tqdm

from codereuse.errors import ConfigError
from codereuse.graphs.ast_edges import flatten
from codereuse.graphs.control_flow import FlowBuilder
from codereuse.graphs.data_flow import add_data_edges
from codereuse.graphs.languages import check_language, parser
from codereuse.graphs.rules import RULES

log = logging.getLogger(__name__)
PARALLEL_MIN = 2000  # below this many inputs a worker pool costs more than it saves
CHUNK = 64  # inputs per worker task
_RECURSION_LIMIT = 20_000  # the CFG pass recurses once per nesting level (<= max_nodes levels)


@dataclass
class GraphRecord:
    """A graph as plain arrays: node_type [N], span [N, 2] (characters), edges [E, 3] (src, dst, type)."""
    node_type: np.ndarray
    span: np.ndarray
    edges: np.ndarray
    truncated: bool

    def pack(self) -> tuple[int, int, bool, bytes]:
        """(nodes, edges, truncated, int32 bytes): cheap to pickle between processes and to store."""
        arrays = np.concatenate([self.node_type, self.span.ravel(), self.edges.ravel()]).astype("<i4")
        return len(self.node_type), len(self.edges), bool(self.truncated), arrays.tobytes()

    @classmethod
    def unpack(cls, packed: tuple[int, int, bool, bytes]) -> GraphRecord:
        nodes, edges, truncated, blob = packed
        arrays = np.frombuffer(blob, dtype="<i4")
        if len(arrays) != 3 * nodes + 3 * edges:
            raise ValueError(f"graph of {nodes} nodes and {edges} edges holds {len(arrays)} numbers")
        return cls(arrays[:nodes], arrays[nodes:3 * nodes].reshape(nodes, 2),
                   arrays[3 * nodes:].reshape(edges, 3), bool(truncated))

    def to_data(self) -> Data:
        edges = torch.from_numpy(self.edges.astype(np.int64, copy=False)).reshape(-1, 3)
        return Data(node_type=torch.from_numpy(self.node_type.astype(np.int64, copy=False)),
                    span=torch.from_numpy(self.span.astype(np.int64, copy=False)).reshape(-1, 2),
                    edge_index=edges[:, :2].t().contiguous(), edge_type=edges[:, 2].contiguous(),
                    num_nodes=len(self.node_type), truncated=torch.tensor([self.truncated]))


def _check_max_nodes(max_nodes: int) -> int:
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ConfigError("max_nodes", max_nodes, allowed="an integer >= 1")
    return max_nodes


def build_record(code: str, language: str = "python", max_nodes: int = 512) -> GraphRecord:
    if not isinstance(code, str):
        raise ConfigError("code", type(code).__name__, allowed="a str of source code")
    rules = RULES[check_language(language)]
    source = code.encode("utf-8", "surrogatepass")  # lone surrogates must not crash the build
    tree = parser(language).parse(source)
    edges: list[tuple[int, int, int]] = []
    flat = flatten(tree, source, language, _check_max_nodes(max_nodes), edges)
    ast_edge_count = len(edges)
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    try:
        flows = FlowBuilder(flat, rules, edges).build()
        add_data_edges(flat, rules, flows, edges)
    except RecursionError:  # pathological nesting: keep the AST rather than fail the dataset
        log.warning("graph of a %d-node %s input kept without control/data-flow edges (nesting too deep)",
                    len(flat), language)
        del edges[ast_edge_count:]
    offsets = np.array([flat.start, flat.end], dtype=np.int64).T
    if len(source) != len(code):  # non-ASCII: tree-sitter counts bytes, spans count characters
        is_char_start = (np.frombuffer(source, dtype=np.uint8) & 0xC0) != 0x80
        chars_before = np.concatenate([[0], np.cumsum(is_char_start)])
        offsets = chars_before[offsets]
    edge_array = np.array(list(dict.fromkeys(edges)), dtype=np.int32).reshape(-1, 3)
    return GraphRecord(np.array(flat.vocab, dtype=np.int32), offsets.astype(np.int32), edge_array,
                       flat.truncated)


def build_graph(code: str, language: str = "python", max_nodes: int = 512) -> Data:
    """The code property graph of ``code`` (see ``EDGE_TYPES`` / ``NODE_TYPES`` for the id spaces)."""
    return build_record(code, language, max_nodes).to_data()


def _build_chunk(args: tuple[Sequence[str], str, int]) -> list[tuple[int, int, bool, bytes]]:
    codes, language, max_nodes = args
    return [build_record(code, language, max_nodes).pack() for code in codes]


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _build_serial(chunks: list[tuple[Sequence[str], str, int]], bar: tqdm) -> list[GraphRecord]:
    records: list[GraphRecord] = []
    for codes, language, max_nodes in chunks:
        records += [build_record(code, language, max_nodes) for code in codes]
        bar.update(len(codes))
    return records


def _build_parallel(chunks: list[tuple[Sequence[str], str, int]], workers: int, bar: tqdm) -> list[GraphRecord]:
    # fork: workers inherit the loaded grammars instead of re-importing torch (seconds each);
    # gc.freeze: the workers' collector then leaves the inherited objects (and their pages) alone
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    records: list[GraphRecord] = []
    gc.freeze()
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for part in pool.map(_build_chunk, chunks):
                records += map(GraphRecord.unpack, part)
                bar.update(len(part))
    except BrokenProcessPool:  # a worker died (out of memory, killed): finish in this process
        log.warning("a graph worker died; building the remaining %d chunks in the main process",
                    len(chunks) - len(records) // CHUNK)
        records += _build_serial(chunks[len(records) // CHUNK:], bar)
    finally:
        gc.unfreeze()
    return records


def build_records(codes: Sequence[str], language: str = "python", max_nodes: int = 512,
                  progress: bool = True, workers: int | None = None) -> list[GraphRecord]:
    check_language(language)
    _check_max_nodes(max_nodes)
    if workers is None:
        workers = _usable_cores() if len(codes) >= PARALLEL_MIN else 1
    chunks = [(codes[i:i + CHUNK], language, max_nodes) for i in range(0, len(codes), CHUNK)]
    bar = tqdm(total=len(codes), desc=f"graphs ({language})", unit="fn", disable=not progress)
    with bar:
        return _build_serial(chunks, bar) if workers <= 1 else _build_parallel(chunks, workers, bar)


def build_graphs(codes: Sequence[str], language: str = "python", max_nodes: int = 512,
                 progress: bool = True, workers: int | None = None) -> list[Data]:
    """``build_graph`` for many inputs, in order, on all cores for large inputs, with a progress bar."""
    return [r.to_data() for r in build_records(codes, language, max_nodes, progress, workers)]
