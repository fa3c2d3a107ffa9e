"""Graphs built once per dataset and kept in the dataset cache directory (``data.cache_dir``).

Content-keyed: the key hashes every code string with the language, ``max_nodes``, the builder
version and the grammar versions, so a changed dataset, option or grammar builds afresh. Storage is
codereuse.data.cache's atomic, checksummed gzip-JSON entry; each graph is one base64 string of its
int32 arrays (compact, and loading runs no code). A corrupt entry is reported in one line and rebuilt.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch_geometric.data import Data

from codereuse.data.cache import Cache, cache_key
from codereuse.graphs.build import GraphRecord, build_records
from codereuse.graphs.languages import grammar_versions
from codereuse.graphs.schema import BUILDER_VERSION

log = logging.getLogger(__name__)
KIND = "graphs"


def graphs_key(codes: Sequence[str], language: str, max_nodes: int) -> str:
    digest = hashlib.sha256()
    for code in codes:
        data = code.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))  # length-prefixed: no two lists collide
        digest.update(data)
    return cache_key(KIND, digest.hexdigest(), len(codes), language, max_nodes, BUILDER_VERSION,
                     grammar_versions())


def encode(record: GraphRecord) -> list:
    nodes, edges, truncated, blob = record.pack()
    return [nodes, edges, truncated, base64.b64encode(blob).decode("ascii")]


def decode(entry: list) -> GraphRecord:
    nodes, edges, truncated, blob = entry
    return GraphRecord.unpack((nodes, edges, truncated, base64.b64decode(blob)))


def cached_records(codes: Sequence[str], language: str = "python", max_nodes: int = 512,
                   cache_dir: str | Path | None = None, progress: bool = True,
                   workers: int | None = None) -> list[GraphRecord]:
    cache = Cache(cache_dir)
    key = graphs_key(codes, language, max_nodes)
    stored = cache.load(KIND, key)  # a checksum failure is logged and removed inside load()
    if stored is not None:
        try:
            if len(stored) != len(codes):
                raise ValueError(f"{len(stored)} graphs for {len(codes)} inputs")
            return [decode(entry) for entry in stored]
        except (ValueError, TypeError, KeyError) as error:
            log.warning("graph cache entry %s-%s in %s is corrupt (%s); rebuilding it", KIND, key, cache.root, error)
    records = build_records(codes, language, max_nodes, progress=progress, workers=workers)
    cache.save(KIND, key, [encode(r) for r in records])
    log.info("built %s %s graphs (max_nodes=%d): %s", len(records), language, max_nodes,
             format_summary(summary(records)))
    return records


def cached_graphs(codes: Sequence[str], language: str = "python", max_nodes: int = 512,
                  cache_dir: str | Path | None = None, progress: bool = True,
                  workers: int | None = None) -> list[Data]:
    """``build_graphs`` through the cache: the first call for a dataset builds, later calls load."""
    return [r.to_data() for r in cached_records(codes, language, max_nodes, cache_dir, progress, workers)]


def summary(graphs: Sequence[Data | GraphRecord]) -> dict[str, object]:
    """Count, truncated count and node/edge percentiles, for the data card and logs."""
    nodes = np.array([_size(g)[0] for g in graphs] or [0])
    edges = np.array([_size(g)[1] for g in graphs] or [0])
    percentiles = (50, 90, 99, 100)

    def spread(values: np.ndarray) -> dict[str, float]:
        return {f"p{p}": float(np.percentile(values, p)) for p in percentiles} | {"mean": float(values.mean())}

    return {"graphs": len(graphs), "truncated": sum(_truncated(g) for g in graphs),
            "nodes": spread(nodes), "edges": spread(edges)}


def format_summary(stats: dict) -> str:
    n, e = stats["nodes"], stats["edges"]
    return (f"{stats['graphs']} graphs, {stats['truncated']} truncated; nodes median {n['p50']:.0f} "
            f"p90 {n['p90']:.0f} max {n['p100']:.0f}; edges median {e['p50']:.0f} p90 {e['p90']:.0f} "
            f"max {e['p100']:.0f}")


def _size(graph: Data | GraphRecord) -> tuple[int, int]:
    if isinstance(graph, GraphRecord):
        return len(graph.node_type), len(graph.edges)
    return int(graph.num_nodes), int(graph.edge_index.shape[1])


def _truncated(graph: Data | GraphRecord) -> bool:
    return bool(graph.truncated) if isinstance(graph, GraphRecord) else bool(graph.truncated.any())
