"""Harvesting and normalisation: the shared machinery under every embedded task (splitting: test_splits.py)."""
from __future__ import annotations

import ast
import logging

from data_fixtures import write_bad_tree, write_good_tree

from codereuse.data import harvest
from codereuse.data.normalize import first_sentence, near_duplicate_key, strip_docstring


def test_bad_files_are_skipped_counted_and_summarised(tmp_path, caplog):
    root = write_bad_tree(tmp_path)
    with caplog.at_level(logging.INFO, logger="codereuse.data.harvest"):
        table = harvest.harvest(root, harvest.source_files(root, "library"), progress=False)
    assert table.skipped == {"syntax_error": 1, "binary": 1, "non_utf8": 1, "empty": 1, "huge_function": 2}
    names = {f["name"] for f in table.functions}
    assert "small" in names and "huge" not in names and "long" not in names
    assert table.files == 4  # geometry, text_utils, huge, long
    summary = [r.getMessage() for r in caplog.records if "harvested" in r.getMessage()]
    assert len(summary) == 1 and "skipped" in summary[0] and "syntax_error 1" in summary[0]


def test_functions_methods_and_async_are_extracted_once(tmp_path):
    root = write_good_tree(tmp_path)
    table = harvest.harvest(root, ["shapes/geometry.py"], progress=False)
    by_name = {f["name"]: f for f in table.functions}
    # nested classes qualify their methods; defs under `if` count; a def inside a def does not
    assert set(by_name) == {"distance", "Polygon.__init__", "Polygon.perimeter", "Polygon.Builder.add",
                            "Polygon.refresh", "fast_distance", "clamp"}
    record = by_name["distance"]
    source = (root / "shapes/geometry.py").read_text()
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "distance")
    assert record["code"] == ast.unparse(node)
    assert record["docstring"] == "Return the Euclidean distance between two points."
    assert (record["file"], record["line"], record["lines"]) == ("shapes/geometry.py", node.lineno, 5)
    assert by_name["Polygon.refresh"]["code"].startswith("async def refresh")
    assert "def inner" in by_name["clamp"]["code"]


def test_name_prefix_and_scopes(tmp_path):
    root = write_good_tree(tmp_path)
    assert harvest.source_files(root, "library") == ["shapes/geometry.py", "shapes/text_utils.py"]
    assert harvest.source_files(root, "tests") == ["shapes/tests/test_geometry.py"]
    table = harvest.harvest(root, harvest.source_files(root, "tests"), name_prefix="test", progress=False)
    assert {f["name"] for f in table.functions} == {"DistanceTest.test_zero", "DistanceTest.test_only_an_assertion",
                                                     "DistanceTest.test_unit", "DistanceTest.test_no_assert",
                                                     "test_plain"}
    assert harvest.is_test_path("lib2to3/tests/data/x.py") and harvest.is_test_path("idlelib/idle_test/a.py")
    assert not harvest.is_test_path("email/contest.py")


def test_parallel_harvest_matches_in_process(tmp_path):
    root = write_good_tree(tmp_path)
    paths = harvest.source_files(root)
    one = harvest.harvest(root, paths, progress=False, workers=1)
    two = harvest.harvest(root, paths, progress=False, workers=2)
    assert one == two


def test_fingerprint_follows_content(tmp_path):
    root = write_good_tree(tmp_path)
    before = harvest.fingerprint(root)
    assert harvest.fingerprint(root) == before
    (root / "shapes" / "text_utils.py").write_text("def changed():\n    return 2\n")
    assert harvest.fingerprint(root) != before


def test_near_duplicate_key_abstracts_names_and_literals():
    a = "def f(x):\n    return x + 1"
    renamed = "def total(value):\n    return value + 42"
    different = "def f(x):\n    return x - 1"
    assert near_duplicate_key(a) == near_duplicate_key(renamed)
    assert near_duplicate_key(a) != near_duplicate_key(different)
    documented = "def g(y):\n    '''Add one: see f(x).'''\n    return y + 1"
    assert near_duplicate_key(documented, has_docstring=True) == near_duplicate_key(a)
    assert near_duplicate_key(documented) != near_duplicate_key(a)
    annotated = "def g(y: 'int') -> str:\n    return y + 1"  # a string in the signature is not a docstring
    assert near_duplicate_key(annotated, has_docstring=True) == near_duplicate_key(annotated)


def test_first_sentence_and_docstring_stripping():
    assert first_sentence("Return the value, e.g. 3.\n\nMore text.") == "Return the value, e.g. 3."
    assert first_sentence("Split a\n   long line. Then stop.") == "Split a long line."
    assert first_sentence("No full stop here") == "No full stop here"
    func = ast.parse('def f():\n    """Doc."""\n    return 1').body[0]
    assert strip_docstring(func) and ast.unparse(func) == "def f():\n    return 1"
    only_doc = ast.parse('def f():\n    """Doc."""').body[0]
    assert not strip_docstring(only_doc)
