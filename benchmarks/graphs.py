"""Throughput of code-property-graph construction (parse + AST + CFG + DDG; node features excluded).

Inputs are real functions: Python from this interpreter's standard library (original source of
every module-level def and method, dedented), Java from the shared CodeXGLUE Java->C# data (when
present), C from the ``.c`` files installed under the interpreter's base prefix (when present).
Each language is built once serially (one core) and once on all cores through ``build_graphs``
(torch_geometric ``Data`` out). Besides wall-clock rates it reports ``functions_per_cpu_s``, the
rate per CPU-second of the parallel run (workers included): on a shared, loaded machine the
wall-clock rates mostly measure the other jobs, the CPU rate what the builder itself costs.

    python benchmarks/graphs.py [--functions 6000] [--max-nodes 512] [--workers 2]

Prints one JSON line: {"functions_per_s", "nodes_per_function", "edges_per_function", "languages"}
where the top-level numbers are the Python standard-library run on all cores.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import sys
import sysconfig
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

from codereuse.graphs import build_graphs
from codereuse.graphs.languages import parser

ROOT = Path(__file__).resolve().parents[1]
JAVA_DATA = ROOT.parent / "shared" / "data" / "codexglue-java-cs"


def python_functions(limit: int) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    functions: list[str] = []
    for path in sorted(stdlib.rglob("*.py")):
        parts = set(path.relative_to(stdlib).parts)
        if parts & {"site-packages", "test", "tests", "idle_test"}:
            continue
        try:
            source = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                functions.append(textwrap.dedent("".join(lines[start - 1:node.end_lineno])))
    return evenly(functions, limit)


def evenly(items: list[str], limit: int) -> list[str]:
    """``limit`` items spread evenly over the list (every package represented, deterministic)."""
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def java_functions(limit: int) -> list[str]:
    path = JAVA_DATA / "train.java-cs.txt.java"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(limit), handle)]


def c_functions(limit: int) -> list[str]:
    functions: list[str] = []
    c = parser("c")
    for path in sorted(Path(sys.base_prefix).rglob("*.c")):
        source = path.read_bytes()
        for node in c.parse(source).root_node.children:
            if node.type == "function_definition":
                functions.append(source[node.start_byte:node.end_byte].decode("utf-8", "replace"))
    return evenly(functions, limit)


def timed(build) -> tuple[list, float, float]:
    """(result, wall seconds, CPU seconds of this process and its finished workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    result = build()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, wall, cpu + after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime


def measure(codes: list[str], language: str, max_nodes: int, workers: int) -> dict:
    if not codes:
        return {"functions": 0, "note": "no inputs found"}
    _, serial, _ = timed(lambda: build_graphs(codes, language, max_nodes, progress=False, workers=1))
    graphs, parallel, cpu = timed(lambda: build_graphs(codes, language, max_nodes, progress=False,
                                                       workers=workers))
    nodes = np.array([g.num_nodes for g in graphs])
    edges = np.array([g.edge_index.shape[1] for g in graphs])
    return {"functions": len(codes), "functions_per_s": round(len(codes) / parallel, 1),
            "serial_functions_per_s": round(len(codes) / serial, 1), "workers": workers,
            "functions_per_cpu_s": round(len(codes) / cpu, 1),
            "nodes_per_function": round(float(nodes.mean()), 1),
            "edges_per_function": round(float(edges.mean()), 1),
            "truncated": int(sum(bool(g.truncated) for g in graphs))}


def main() -> None:
    parser_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser_.add_argument("--functions", type=int, default=6000, help="functions per language")
    parser_.add_argument("--max-nodes", type=int, default=512)
    parser_.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser_.parse_args()
    inputs = {"python": python_functions(args.functions), "java": java_functions(args.functions),
              "c": c_functions(args.functions)}
    languages = {name: measure(codes, name, args.max_nodes, args.workers) for name, codes in inputs.items()}
    python = languages["python"]
    print(json.dumps({"functions_per_s": python["functions_per_s"],
                      "nodes_per_function": python["nodes_per_function"],
                      "edges_per_function": python["edges_per_function"],
                      "max_nodes": args.max_nodes, "load_average_1min": round(os.getloadavg()[0], 1),
                      "languages": languages}))


if __name__ == "__main__":
    main()
