"""Code property graphs: vocabulary, hand-checked control/data flow per language, robustness, cache."""
from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from codereuse.graphs import EDGE_TYPES, NODE_TYPES, build_graph, build_graphs, num_node_types
from codereuse.graphs import cache as graph_cache
from codereuse.graphs.languages import ERROR, parser

ROOT = Path(__file__).resolve().parents[1]
JAVA_DATA = ROOT.parent / "shared" / "data" / "codexglue-java-cs"
FLOW = tuple(t for t in EDGE_TYPES if not t.startswith("ast"))


SHOWN = 8  # characters of source that name a node in assertions, beside its offset


def label(code: str, start: int) -> str:
    """A node as '<source from its start>@<char offset>'; the root is 'ROOT' (it shares offset 0)."""
    return f"{code[start:start + SHOWN]}@{start}"


def at(code: str, text: str, nth: int = 0) -> str:
    """The label of the node starting at the nth occurrence of ``text`` (names: whole words)."""
    pattern = re.escape(text)
    if re.fullmatch(r"\w+", text):  # a name: whole words only (n is not the n of int)
        pattern = rf"(?<!\w){pattern}(?!\w)"
    return label(code, [m.start() for m in re.finditer(pattern, code)][nth])


def flow_edges(code: str, language: str, kinds: tuple[str, ...] = FLOW) -> set[tuple[str, str, str]]:
    graph = build_graph(code, language)
    names = ["ROOT"] + [label(code, start) for start, _ in graph.span.tolist()[1:]]
    return {(EDGE_TYPES[k], names[s], names[t])
            for (s, t), k in zip(graph.edge_index.t().tolist(), graph.edge_type.tolist())
            if EDGE_TYPES[k] in kinds}


def assert_well_formed(graph, code: str | None = None) -> None:
    n = graph.num_nodes
    assert n >= 1 and graph.node_type.shape == (n,) and graph.span.shape == (n, 2)
    assert graph.node_type.dtype == torch.long and 0 <= int(graph.node_type.min()) < num_node_types()
    assert int(graph.node_type.max()) < num_node_types()
    assert graph.edge_index.shape == (2, graph.edge_type.numel())
    if graph.edge_type.numel():
        assert 0 <= int(graph.edge_index.min()) and int(graph.edge_index.max()) < n
        assert int(graph.edge_type.max()) < len(EDGE_TYPES)
    if code is not None:
        assert 0 <= int(graph.span.min()) and int(graph.span.max()) <= len(code)
    # pre-order: every node but the root hangs from an earlier node by exactly one ast_child edge
    child = graph.edge_type == EDGE_TYPES.index("ast_child")
    parents, children = graph.edge_index[:, child]
    assert sorted(children.tolist()) == list(range(1, n)) and bool((parents < children).all())


def assert_spans_match_tree(code: str, language: str) -> None:
    """Every graph node's character span covers exactly the text of its tree-sitter node."""
    graph = build_graph(code, language, max_nodes=10_000)
    source = code.encode()
    named = []
    stack = [parser(language).parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_named:
            named.append(node)
        stack.extend(reversed(node.children))
    assert graph.num_nodes == len(named)
    for (start, end), node in zip(graph.span.tolist(), named):
        assert code[start:end].encode() == node.text


# --- vocabulary -----------------------------------------------------------------------------

def test_vocabularies_are_unique_and_cover_the_grammars():
    assert len(set(EDGE_TYPES)) == len(EDGE_TYPES) and "data_dep" in EDGE_TYPES
    assert len(set(NODE_TYPES)) == len(NODE_TYPES) == num_node_types()
    assert NODE_TYPES[ERROR] == "ERROR"
    for kind in ("python:function_definition", "java:method_declaration", "c:function_definition",
                 "python:match_statement", "java:enhanced_for_statement", "c:goto_statement"):
        assert kind in NODE_TYPES
    graph = build_graph("def f(x):\n    return x\n")
    names = [NODE_TYPES[i] for i in graph.node_type.tolist()]
    assert names == ["python:module", "python:function_definition", "python:identifier",
                     "python:parameters", "python:identifier", "python:block", "python:return_statement",
                     "python:identifier"]


# --- Python: hand-checked graphs ------------------------------------------------------------

def test_python_if_control_and_data_flow_known_by_hand():
    code = "x = 1\nif x:\n  y = x\nreturn y\n"
    root = "ROOT"
    assert flow_edges(code, "python") == {
        ("cfg_next", root, at(code, "x = 1")),
        ("cfg_next", at(code, "x = 1"), at(code, "if x:")),
        ("cfg_true", at(code, "if x:"), at(code, "y = x")),
        ("cfg_false", at(code, "if x:"), at(code, "return y")),
        ("cfg_next", at(code, "y = x"), at(code, "return y")),
        ("cfg_return", at(code, "return y"), root),
        ("data_dep", label(code, 0), label(code, 9)),    # x = 1  ->  if x
        ("data_dep", label(code, 0), label(code, 18)),   # x = 1  ->  y = x
        ("data_dep", label(code, 14), label(code, 27)),  # y = x  ->  return y
    }


def test_python_while_break_continue_else_and_reaching_definitions():
    code = ("def f(a, b=2):\n    while a:\n        if b: break\n        a -= 1\n        continue\n"
            "    else:\n        a = 0\n    return a\n")
    func = at(code, "def f")
    param, cond, aug, zero, ret = (at(code, "a", i) for i in range(5))  # f(a, / while a / a -= 1 / a = 0 / return a
    assert flow_edges(code, "python") == {
        ("cfg_next", "ROOT", func),  # module -> the def statement
        ("cfg_next", func, at(code, "while a:")),
        ("cfg_true", at(code, "while a:"), at(code, "if b: break")),
        ("cfg_true", at(code, "if b: break"), at(code, "break")),
        ("cfg_false", at(code, "if b: break"), at(code, "a -= 1")),
        ("cfg_next", at(code, "a -= 1"), at(code, "continue")),
        ("cfg_continue", at(code, "continue"), at(code, "while a:")),
        ("cfg_false", at(code, "while a:"), at(code, "a = 0")),   # loop-else runs when the test fails
        ("cfg_next", at(code, "a = 0"), at(code, "return a")),
        ("cfg_break", at(code, "break"), at(code, "return a")),   # break skips the else
        ("cfg_return", at(code, "return a"), func),
        ("data_dep", param, cond), ("data_dep", param, aug), ("data_dep", aug, cond),
        ("data_dep", aug, aug), ("data_dep", param, ret), ("data_dep", aug, ret), ("data_dep", zero, ret),
        ("data_dep", at(code, "b", 0), at(code, "b", 1)),
    }


def test_python_for_loop_back_edge_carries_definitions_around():
    code = "def total(xs):\n    t = 0\n    for v in xs:\n        t = t + v\n    return t\n"
    edges = flow_edges(code, "python")
    loop, body, ret = at(code, "for v in xs:"), at(code, "t = t + v"), at(code, "return t")
    assert {("cfg_true", loop, body), ("cfg_back", body, loop), ("cfg_false", loop, ret)} <= edges
    t0, t_def, t_use, t_ret = (at(code, "t", i) for i in range(4))
    data = {e for e in edges if e[0] == "data_dep"}
    assert data == {("data_dep", at(code, "xs"), at(code, "xs", 1)), ("data_dep", at(code, "v", 0), at(code, "v", 1)),
                    ("data_dep", t0, t_use), ("data_dep", t_def, t_use),  # around the back edge
                    ("data_dep", t0, t_ret), ("data_dep", t_def, t_ret)}


def test_python_attribute_and_keyword_names_are_not_variables():
    code = "a = 1\nb = 2\nc = obj.a + f(b=a)\n"
    data = flow_edges(code, "python", ("data_dep",))
    assert data == {("data_dep", at(code, "a"), label(code, code.rindex("a")))}  # not obj.a, not keyword b


def test_python_311_syntax_parses_without_errors_and_links_new_binders():
    code = '''
@decorator(level=2)
async def handle(items, *rest, key=None, **options):
    import asyncio as aio
    from os import path as p
    async with aio.timeout(1) as t, lock:
        async for item in items:
            await t.step(item)
    if (n := len(items)) > 1:
        print(f"{n!r:>{key}} {p}")
    match items:
        case [first, *others] if first > 0:
            return first, others
        case {"k": value} | Point(x=value):
            return value
        case _:
            pass
    try:
        raise ExceptionGroup("g", [ValueError()])
    except* ValueError as group:
        log(group)
    total = [x * y for x in rest for y in options if x]
    return lambda z: z + total[0]
'''
    graph = build_graph(code)
    assert_well_formed(graph, code)
    assert ERROR not in graph.node_type.tolist()
    data = flow_edges(code, "python", ("data_dep",))
    expect = [("aio", 0, 1), ("p", 0, 1), ("items", 0, 1), ("t", 0, 1), ("item", 0, 1),  # import/with/async for
              ("n", 0, 1), ("key", 0, 1), ("first", 0, 1), ("first", 0, 2), ("others", 0, 1),
              ("value", 0, 2), ("value", 1, 2), ("group", 0, 1), ("total", 0, 1)]
    for name, nth_def, nth_use in expect:
        assert ("data_dep", at(code, name, nth_def), at(code, name, nth_use)) in data, name
    # comprehension and lambda variables are local to them: no edge leaves or enters those names
    comprehension = code.index("[x * y")
    local = {label(code, m.start()) for m in re.finditer(r"(?<!\w)[xyz](?!\w)", code)}
    assert not any(e[1] in local or e[2] in local for e in data)
    assert ("data_dep", at(code, "rest"), label(code, code.index("rest", comprehension))) in data
    flow = flow_edges(code, "python", ("cfg_exception", "cfg_raise"))
    assert ("cfg_exception", at(code, "try:"), at(code, "except* ValueError")) in flow
    assert ("cfg_raise", at(code, "raise ExceptionGroup"), at(code, "async def")) in flow


def test_python_match_cases_chain_on_failure():
    code = "match c:\n    case 1:\n        a = 1\n    case _:\n        a = 2\nprint(a)\n"
    flow = flow_edges(code, "python", ("cfg_next", "cfg_true", "cfg_false"))
    case1, case2 = at(code, "case 1:"), at(code, "case _:")
    assert {("cfg_next", at(code, "match c:"), case1), ("cfg_true", case1, at(code, "a = 1")),
            ("cfg_false", case1, case2), ("cfg_true", case2, at(code, "a = 2")),
            ("cfg_next", at(code, "a = 1"), at(code, "print(a)")),
            ("cfg_next", at(code, "a = 2"), at(code, "print(a)"))} <= flow


def test_nested_function_is_its_own_unit():
    code = "def outer(a):\n    def inner(a):\n        return a\n    return inner(a)\n"
    data = flow_edges(code, "python", ("data_dep",))
    outer_param, inner_param, inner_use, outer_use = (at(code, "a", i) for i in range(4))
    assert data == {("data_dep", inner_param, inner_use), ("data_dep", outer_param, outer_use),
                    ("data_dep", at(code, "inner"), at(code, "inner", 1))}


def test_definitions_bind_their_names_in_the_enclosing_unit():
    code = "@dec\ndef f():\n    pass\nclass C:\n    pass\ng = f(C)\n"
    assert flow_edges(code, "python", ("data_dep",)) == {
        ("data_dep", at(code, "f"), at(code, "f", 1)), ("data_dep", at(code, "C"), at(code, "C", 1))}


# --- Java ------------------------------------------------------------------------------------

def test_java_for_loop_continue_goes_to_update_and_back_edge_to_header():
    code = "int f(int n) { int s = 0; for (int i = 0; i < n; i++) { if (i == 3) continue; s += i; } return s; }"
    edges = flow_edges(code, "java")
    head, update = at(code, "for ("), at(code, "i++")
    cfg = {e for e in edges if e[0] != "data_dep"}
    assert cfg == {
        ("cfg_next", "ROOT", at(code, "int f")),
        ("cfg_next", at(code, "int f"), at(code, "int s = 0;")),
        ("cfg_next", at(code, "int s = 0;"), at(code, "int i = 0")),
        ("cfg_next", at(code, "int i = 0"), head),
        ("cfg_true", head, at(code, "if (i == 3)")),
        ("cfg_true", at(code, "if (i == 3)"), at(code, "continue;")),
        ("cfg_continue", at(code, "continue;"), update),
        ("cfg_false", at(code, "if (i == 3)"), at(code, "s += i;")),
        ("cfg_next", at(code, "s += i;"), update),
        ("cfg_back", update, head),
        ("cfg_false", head, at(code, "return s;")),
        ("cfg_return", at(code, "return s;"), at(code, "int f")),
    }
    s_init, s_aug, s_ret = at(code, "s", 0), at(code, "s", 1), at(code, "s", 2)
    assert {("data_dep", s_init, s_aug), ("data_dep", s_aug, s_aug), ("data_dep", s_init, s_ret),
            ("data_dep", s_aug, s_ret), ("data_dep", at(code, "n"), at(code, "n", 1))} <= edges


def test_java_labeled_break_switch_try_and_lambda():
    code = ("void g(int[] xs) { outer: for (int x : xs) { while (x > 0) { if (x == 5) break outer; "
            "if (x == 4) continue outer; x--; } } switch (xs.length) { case 0: h(); case 1: h(); break; "
            "default: h(); } try { h(); } catch (IOException e) { log(e); } Runnable r = () -> { return; }; }")
    edges = flow_edges(code, "java")
    each = at(code, "for (int x")
    assert ("cfg_break", at(code, "break outer;"), at(code, "switch")) in edges
    assert ("cfg_continue", at(code, "continue outer;"), each) in edges
    assert ("cfg_back", at(code, "x--;"), at(code, "while")) in edges
    case0, case1 = at(code, "case 0:"), at(code, "case 1:")
    assert {("cfg_true", at(code, "switch"), case0), ("cfg_next", at(code, "h();"), case1)} <= edges
    assert ("cfg_false", at(code, "switch"), at(code, "try")) not in edges  # a default case exists
    assert ("cfg_exception", at(code, "try"), at(code, "catch")) in edges
    catch_e, log_e = at(code, "e"), at(code, "e", 1)
    assert ("data_dep", catch_e, log_e) in edges
    lam = at(code, "() ->")
    assert ("cfg_return", at(code, "return;"), lam) in edges  # the lambda is its own unit


def test_java_side_of_the_shared_translation_data():
    path = JAVA_DATA / "valid.java-cs.txt.java"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared Java data missing: {path}")
        pytest.skip(f"shared Java data not present at {path}")
    codes = path.read_text(encoding="utf-8").splitlines()
    graphs = build_graphs(codes, "java", progress=False)
    assert len(graphs) == len(codes) == 499
    dependent = 0
    for code, graph in zip(codes, graphs):
        assert_well_formed(graph, code)
        types = {EDGE_TYPES[k] for k in graph.edge_type.tolist()}
        assert "cfg_next" in types, code
        dependent += "data_dep" in types
    assert dependent >= 0.7 * len(codes)  # the rest are getters/constants without a local variable
    for code in codes[:40]:
        assert_spans_match_tree(code, "java")


# --- C ---------------------------------------------------------------------------------------

def test_c_do_while_switch_fallthrough_and_goto():
    code = ("int f(int n) { int s = 0; do { s += n; } while (--n > 0); switch (s) { case 1: s = 2; "
            "case 2: s = 3; break; default: s = 4; } goto end; end: return s; }")
    cfg = flow_edges(code, "c", FLOW[:-1])
    func = at(code, "int f")
    do, sw = at(code, "do {"), at(code, "switch")
    case1, case2, default = at(code, "case 1:"), at(code, "case 2:"), at(code, "default:")
    assert cfg == {
        ("cfg_next", "ROOT", func),
        ("cfg_next", func, at(code, "int s = 0;")),
        ("cfg_next", at(code, "int s = 0;"), at(code, "s += n;")),
        ("cfg_back", do, at(code, "s += n;")),          # the do-while test jumps back to the body
        ("cfg_next", at(code, "s += n;"), do),
        ("cfg_false", do, sw),
        ("cfg_true", sw, case1), ("cfg_true", sw, case2), ("cfg_true", sw, default),
        ("cfg_true", case1, at(code, "s = 2;")), ("cfg_next", at(code, "s = 2;"), case2),  # fall-through
        ("cfg_true", case2, at(code, "s = 3;")), ("cfg_next", at(code, "s = 3;"), at(code, "break;")),
        ("cfg_true", default, at(code, "s = 4;")),
        ("cfg_next", at(code, "s = 4;"), at(code, "goto end;")),
        ("cfg_break", at(code, "break;"), at(code, "goto end;")),
        ("cfg_goto", at(code, "goto end;"), at(code, "end:")),
        ("cfg_next", at(code, "end:"), at(code, "return s;")),
        ("cfg_return", at(code, "return s;"), func),
    }


def test_c_pointer_parameters_and_stores_are_uses():
    code = "int f(int *p, int n) { int k = n; *p = k; return p[0] + n; }"
    data = flow_edges(code, "c", ("data_dep",))
    p_def, n_def = at(code, "p"), at(code, "n")
    assert data == {("data_dep", n_def, at(code, "n", 1)), ("data_dep", at(code, "k"), at(code, "k", 1)),
                    ("data_dep", p_def, at(code, "p", 1)), ("data_dep", p_def, at(code, "p", 2)),
                    ("data_dep", n_def, at(code, "n", 2))}


def test_c_samples_and_non_ascii_spans_match_the_tree():
    samples = {
        "c": ["", "int main(void) { return 0; }",
              "/* ünïcode */ static const char *s = \"日本\"; int g(char *t) { while (*t) t++; return 0; }",
              "struct p { int x; }; void h(struct p *q) { for (;;) { if (q->x) break; q->x++; } }"],
        "java": ["class A { String s = \"ß→\"; int m() { return s.length(); } }"],
        "python": ["def f():\n    return 'é' + \"😀\"  # ç\n", "x = '∑'\ny = x\n"],
    }
    for language, codes in samples.items():
        for code in codes:
            assert_well_formed(build_graph(code, language), code)
            assert_spans_match_tree(code, language)


# --- robustness ------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["python", "java", "c"])
def test_any_string_yields_a_graph(language):
    rng = random.Random(0)
    alphabet = "abc xy_=+-*/(){}[]:;,.'\"\\\n\t#@!?<>&|^%~`0123456789éß日😀\x00"
    strange = ["", " ", "\n\n", "\x00", "\ud800 lone surrogate", "def f(:\n  x = = 3\n", "}}}{{{", ")" * 50,
               "(" * 3000, "if x:\n" + "".join("  " * i + "if x:\n" for i in range(1, 300)),
               "{" * 2000 + "}" * 2000, "int f( { return", "def f():\n    pass\n", "void f() {}", "def f(): ..."]
    strange += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400))) for _ in range(40)]
    for code in strange:
        graph = build_graph(code, language)
        assert_well_formed(graph)
    empty = build_graph("", language)
    assert empty.num_nodes == 1 and empty.edge_index.shape == (2, 0) and not bool(empty.truncated)
    broken = build_graph("def f(:\n  x = = 3\n" if language == "python" else "int f( { return x = ; }", language)
    assert ERROR in broken.node_type.tolist()


def test_truncation_keeps_the_first_nodes_in_preorder_and_says_so():
    code = "\n".join(f"def f{i}(a):\n    b = a + {i}\n    return b" for i in range(60))
    full = build_graph(code, max_nodes=100_000)
    cut = build_graph(code, max_nodes=50)
    assert not bool(full.truncated) and bool(cut.truncated) and cut.num_nodes == 50 < full.num_nodes
    assert_well_formed(cut, code)
    assert torch.equal(cut.node_type, full.node_type[:50]) and torch.equal(cut.span, full.span[:50])
    kept = (full.edge_index < 50).all(0)
    full_edges = set(zip(map(tuple, full.edge_index[:, kept].t().tolist()), full.edge_type[kept].tolist()))
    cut_edges = set(zip(map(tuple, cut.edge_index.t().tolist()), cut.edge_type.tolist()))
    assert cut_edges <= full_edges and {k for _, k in cut_edges} >= {0, 1, 2, 8, 12}  # ast, cfg, data


def test_bad_arguments_are_one_line_errors():
    from codereuse.errors import ConfigError
    with pytest.raises(ConfigError, match="language"):
        build_graph("x", "cobol")
    with pytest.raises(ConfigError, match="max_nodes"):
        build_graph("x", max_nodes=0)


# --- batching, parallel build, cache ---------------------------------------------------------

def test_parallel_build_matches_serial_and_batches_with_pyg():
    codes = [f"def f{i}(x):\n    y = x * {i}\n    return y\n" for i in range(150)] + ["", "def ("]
    serial = build_graphs(codes, progress=False, workers=1)
    parallel = build_graphs(codes, progress=False, workers=2)
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_type, b.edge_type)
        assert torch.equal(a.node_type, b.node_type) and torch.equal(a.span, b.span)
    batch = Batch.from_data_list(serial)
    assert batch.num_graphs == len(codes) and batch.truncated.shape == (len(codes),)
    assert batch.num_nodes == sum(g.num_nodes for g in serial)


def test_cache_builds_once_is_content_keyed_and_rebuilds_corrupt_entries(tmp_path, monkeypatch, caplog):
    codes = ["def f(x):\n    return x\n", "int g() { return 1; }"]
    first = graph_cache.cached_graphs(codes, "python", cache_dir=tmp_path, progress=False)
    payloads = list(tmp_path.glob("graphs-*.json.gz"))
    assert len(payloads) == 1

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although cached")
    with monkeypatch.context() as patch:
        patch.setattr(graph_cache, "build_records", no_build)
        again = graph_cache.cached_graphs(codes, "python", cache_dir=tmp_path, progress=False)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.span, b.span)
        assert torch.equal(a.node_type, b.node_type) and bool(a.truncated) == bool(b.truncated)
    assert graph_cache.graphs_key(codes, "python", 512) != graph_cache.graphs_key(codes, "python", 64)
    assert graph_cache.graphs_key(codes, "python", 512) != graph_cache.graphs_key(codes[::-1], "python", 512)
    assert graph_cache.graphs_key(["ab", "c"], "c", 512) != graph_cache.graphs_key(["a", "bc"], "c", 512)
    payloads[0].write_bytes(b"not gzip")
    with caplog.at_level(logging.WARNING):
        rebuilt = graph_cache.cached_graphs(codes, "python", cache_dir=tmp_path, progress=False)
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    assert torch.equal(rebuilt[0].edge_index, first[0].edge_index)


def test_summary_counts_truncated_graphs():
    graphs = build_graphs(["x = 1", "def f(a):\n    return a + a + a\n"], max_nodes=6, progress=False)
    stats = graph_cache.summary(graphs)
    assert stats["graphs"] == 2 and stats["truncated"] == 1
    assert stats["nodes"]["p100"] == 6 and stats["nodes"]["p50"] <= 6
    assert "1 truncated" in graph_cache.format_summary(stats)


def test_a_dead_worker_loses_no_graphs(monkeypatch, caplog):
    from codereuse.graphs import build as build_module
    parent, real = os.getpid(), build_module.build_record

    def dies_in_workers(code, language, max_nodes):
        if os.getpid() != parent:
            os._exit(1)  # a worker killed mid-build (the forked workers inherit this patch)
        return real(code, language, max_nodes)
    monkeypatch.setattr(build_module, "build_record", dies_in_workers)
    codes = [f"def f{i}(x):\n    return x + {i}\n" for i in range(200)]
    with caplog.at_level(logging.WARNING):
        graphs = build_graphs(codes, progress=False, workers=2)
    assert len(graphs) == len(codes) and any("worker died" in r.getMessage() for r in caplog.records)
    assert all(torch.equal(g.node_type, real(c, "python", 512).to_data().node_type) for g, c in zip(graphs, codes))
