"""Code property graphs (AST + control flow + data dependence) for Python, Java and C.

``build_graph(code, language, max_nodes) -> torch_geometric.data.Data`` with ``node_type`` [N]
(ids into ``NODE_TYPES``), ``span`` [N, 2] (character offsets into ``code``), ``edge_index`` [2, E],
``edge_type`` [E] (ids into ``EDGE_TYPES``), ``num_nodes`` and ``truncated`` [1] (bool).
``cached_graphs`` builds a dataset's graphs once (all cores, progress bar) and keeps them in the
data cache; ``summary``/``format_summary`` describe them (count, truncated, size percentiles).
"""
from codereuse.graphs.build import GraphRecord, build_graph, build_graphs, build_records
from codereuse.graphs.cache import cached_graphs, format_summary, summary
from codereuse.graphs.languages import LANGUAGE_NAMES, NODE_TYPES, num_node_types
from codereuse.graphs.schema import BUILDER_VERSION, EDGE_ID, EDGE_TYPES

__all__ = ["BUILDER_VERSION", "EDGE_ID", "EDGE_TYPES", "LANGUAGE_NAMES", "NODE_TYPES", "GraphRecord",
           "build_graph", "build_graphs", "build_records", "cached_graphs", "format_summary",
           "num_node_types", "summary"]
