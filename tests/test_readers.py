import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from codereuse.evaluation.card import format_card
from codereuse.data.readers import CODEXGLUE_TRANS_URL, read_task
from codereuse.data.types import SPLITS, DataError
from codereuse.families import family
from conftest import shared_data



def write_jsonl(path: Path, rows: list, extra_lines: tuple[bytes, ...] = ()) -> None:
    lines = [json.dumps(row).encode() if not isinstance(row, bytes) else row for row in rows]
    path.write_bytes(b"\n".join(lines + list(extra_lines)) + b"\n")


def write_lines(path: Path, lines: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n"
                              for line in lines))


def check_records(data) -> None:
    assert set(data.splits) == set(SPLITS)
    for rows in data.splits.values():
        for row in rows:
            assert all(field in row for field in family(data.family).required_fields)


def test_devign_jsonl_skips_and_counts_bad_lines(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [
        {"func": "int f() { return 0; }", "target": 0, "idx": 1},
        {"func": "int g(int *p) { return *p; }", "target": 1, "idx": 2},
        {"func": "int h() {}", "target": 7},  # label out of range
        {"target": 1},  # no code
        [1, 2],  # valid JSON, not an object
    ], extra_lines=(b'{"func": "broken', b"\xff\xfe not utf-8", b""))
    write_jsonl(tmp_path / "valid.jsonl", [{"func": "void v() {}", "target": "1"}])
    write_jsonl(tmp_path / "test.jsonl", [{"func": "void t() {}", "target": 0}])
    data = read_task("defect", tmp_path)
    check_records(data)
    assert data.family == "classification" and data.label_names == ["clean", "defective"]
    assert data.splits["train"] == [
        {"code": "int f() { return 0; }", "label": 0, "idx": 1},
        {"code": "int g(int *p) { return *p; }", "label": 1, "idx": 2}]
    assert data.splits["valid"] == [{"code": "void v() {}", "label": 1}]
    assert data.skipped == {"bad_json": 2, "missing_field": 2, "non_utf8_lines": 1}
    assert "Devign" in data.source and str(tmp_path) in data.source


def test_bigclonebench_pairs_and_missing_idx(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"idx": "10", "func": "void a() {}"},
                                          {"idx": 11, "func": "void b() {}"},
                                          {"idx": "12"}])
    write_lines(tmp_path / "train.txt", ["10\t11\t1", "10\t99\t0", "11\t10\t0", "10 11", "10\t11\tx"])
    write_lines(tmp_path / "valid.txt", ["11\t11\t1"])
    write_lines(tmp_path / "test.txt", ["10\t10\t1", "12\t10\t0"])
    data = read_task("clone", tmp_path)
    check_records(data)
    assert data.family == "pair" and data.label_names == ["not_clone", "clone"]
    assert data.splits["train"] == [
        {"code1": "void a() {}", "code2": "void b() {}", "label": 1, "idx1": "10", "idx2": "11"},
        {"code1": "void b() {}", "code2": "void a() {}", "label": 0, "idx1": "11", "idx2": "10"}]
    assert data.counts() == {"train": 2, "valid": 1, "test": 1}
    assert data.skipped == {"bad_line": 2, "missing_field": 1, "missing_idx": 2}


def test_bigclonebench_clone_types_become_kinds(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"idx": i, "func": f"void f{i}() {{}}"} for i in range(1, 6)])
    write_lines(tmp_path / "train.txt", ["1\t2\t1", "1\t3\t0", "4\t5\t1"])
    write_lines(tmp_path / "valid.txt", ["2\t3\t1"])
    write_lines(tmp_path / "test.txt", ["3\t4\t1"])
    # the published layout: idx1<TAB>idx2<TAB>type, one line per pair of every split; 4-5 has none
    write_lines(tmp_path / "pair_types.txt", ["1\t2\tT1", "1\t3\tnon_clone", "2\t3\tMT3_WT3", "3\t4\tVST3",
                                              "2\t1\tT2", "bad line"])
    data = read_task("clone", tmp_path)
    assert [r.get("kind") for r in data.splits["train"]] == ["T1", "non_clone", None]  # (1, 2) is not (2, 1)
    assert data.splits["valid"][0]["kind"] == "MT3_WT3" and data.splits["test"][0]["kind"] == "VST3"
    assert data.skipped == {"bad_line": 1}
    assert "kinds     T1 25.0%, non_clone 25.0%, MT3_WT3 25.0%, VST3 25.0%" in format_card(data)
    (tmp_path / "pair_types.txt").unlink()  # releases without types read as before
    assert all("kind" not in r for rows in read_task("clone", tmp_path).splits.values() for r in rows)


def test_real_bigclonebench_types_per_split():
    data = read_task("clone", shared_data("bigclonebench"))
    for split, per_type in (("train", 800), ("valid", 100), ("test", 100)):
        kinds = Counter(r["kind"] for r in data.splits[split])
        assert kinds == {"non_clone": 5 * per_type, **{t: per_type for t in ("T1", "T2", "VST3", "ST3", "MT3_WT3")}}
        assert all((r["kind"] == "non_clone") == (r["label"] == 0) for r in data.splits[split])


def test_poj104_labels_become_contiguous_ints_sorted_numerically(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"code": "a", "label": "10"}, {"code": "b", "label": 2},
                                           {"code": "c", "label": "2"}, {"code": "c2", "label": 7}])
    write_jsonl(tmp_path / "valid.jsonl", [{"code": "d", "label": "7"}])
    write_jsonl(tmp_path / "test.jsonl", [{"code": "e", "label": "10", "idx": "e1"}])
    data = read_task("classify", tmp_path)
    check_records(data)
    assert data.label_names == ["2", "7", "10"]
    assert [r["label"] for r in data.splits["train"]] == [2, 0, 0, 1]
    assert data.splits["test"] == [{"code": "e", "label": 2, "idx": "e1"}]


def test_poj104_text_labels_sort_alphabetically(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"code": "a", "label": "sort"},
                                           {"code": "b", "label": "bfs"}, {"code": "b2", "label": "dfs"}])
    write_jsonl(tmp_path / "valid.jsonl", [{"code": "c", "label": "sort"}])
    write_jsonl(tmp_path / "test.jsonl", [{"code": "d", "label": "dfs"}])
    data = read_task("classify", tmp_path)
    assert data.label_names == ["bfs", "dfs", "sort"]
    assert [r["label"] for r in data.splits["train"]] == [2, 0, 1]


def test_poj104_disjoint_problem_splits_are_not_classes(tmp_path, caplog):
    # CodeXGLUE's layout: every split holds other problems, so an id cannot be a class
    for split, problems in (("train", range(1, 65)), ("valid", range(65, 81)), ("test", range(81, 105))):
        write_jsonl(tmp_path / f"{split}.jsonl", [{"code": f"int main() {{ return {p}; }}", "label": str(p),
                                                   "index": str(i)} for i, p in enumerate(problems)])
    with pytest.raises(DataError) as error:
        read_task("classify", tmp_path)
    message = str(error.value)
    assert "\n" not in message and "none of the 16 problem ids of valid occurs among the 64 of train" in message
    assert "MAP@R" in message
    # test problems shared with train, some not: read, with the unseen share named
    write_jsonl(tmp_path / "valid.jsonl", [{"code": "int v;", "label": "1"}])
    write_jsonl(tmp_path / "test.jsonl", [{"code": "int t;", "label": "2"}, {"code": "int u;", "label": "99"}])
    with caplog.at_level("WARNING", logger="codereuse.data.readers"):
        data = read_task("classify", tmp_path)
    assert data.num_labels == 65
    assert any("1 of the 2 problem ids of test never occur in train; their 1 records" in r.getMessage()
               for r in caplog.records)


def test_codesearchnet_summarize_and_search_from_gz_and_tokens(tmp_path):
    rows = [
        {"code": "def f():\n    '''Add.'''\n    return 1", "docstring": "Add.",
         "code_tokens": ["def", "f", "(", ")", ":", "return", "1"], "docstring_tokens": ["Add", "."]},
        {"code": "def g(): pass", "docstring": "Nothing here."},
        {"code": "def h(): pass", "docstring": ""},  # no docstring: not a pair
    ]
    with gzip.open(tmp_path / "train.jsonl.gz", "wb") as handle:
        handle.write(b"\n".join(json.dumps(r).encode() for r in rows) + b"\n")
    write_jsonl(tmp_path / "test.jsonl", [{"code": "def t(): pass", "docstring": "T.", "idx": 3}])
    summarize = read_task("summarize", tmp_path)
    check_records(summarize)
    assert summarize.family == "seq2seq"
    # Tokens win: the raw code still holds the docstring, which is the target.
    assert summarize.splits["train"] == [{"source": "def f ( ) : return 1", "target": "Add ."}]
    # No valid file: the second train record is carved out as valid.
    assert summarize.splits["valid"] == [{"source": "def g(): pass", "target": "Nothing here."}]
    assert "valid = 1 of 2 train records carved out" in summarize.source
    assert summarize.skipped == {"missing_field": 1}
    search = read_task("search", tmp_path)
    assert search.family == "retrieval"
    assert search.splits["test"] == [{"query": "T.", "code": "def t(): pass", "idx": 3}]


def test_atlas_directories_with_eval_or_validation(tmp_path):
    training = tmp_path / "Training"
    write_lines(training / "testMethods.txt", ["testA() { a(); }", "testB() { b(); }", ""])
    write_lines(training / "assertLines.txt", ["assertEquals(1, a())", "assertTrue(b())", "x"])
    write_lines(tmp_path / "Validation" / "testMethods.txt", ["testV() {}"])
    write_lines(tmp_path / "Validation" / "assertLines.txt", ["assertNull(v)"])
    write_lines(tmp_path / "Testing" / "testMethods.txt", ["testT() {}"])
    write_lines(tmp_path / "Testing" / "assertLines.txt", ["assertFalse(t)"])
    data = read_task("assert", tmp_path)
    check_records(data)
    assert data.splits["train"] == [
        {"source": "testA() { a(); }", "target": "assertEquals(1, a())", "idx": 0},
        {"source": "testB() { b(); }", "target": "assertTrue(b())", "idx": 1}]
    assert data.splits["valid"][0]["target"] == "assertNull(v)"
    assert data.skipped == {"empty_lines": 1}
    assert "ATLAS" in data.source


def test_assert_also_reads_source_target_jsonl(tmp_path):
    write_jsonl(tmp_path / "train.jsonl",
                [{"source": f"test{i}()", "target": f"assert x{i}"} for i in range(40)])
    write_jsonl(tmp_path / "test.jsonl", [{"source": "t()", "target": "assert t"}])
    data = read_task("assert", tmp_path)
    assert data.counts() == {"train": 38, "valid": 2, "test": 1}
    assert data.splits["valid"] == [{"source": "test19()", "target": "assert x19"},
                                    {"source": "test39()", "target": "assert x39"}]
    assert "valid = 2 of 40 train records carved out" in data.source
    assert read_task("assert", tmp_path, fmt="seq2seq_jsonl").splits == data.splits


def test_translation_pairs_non_utf8_and_carving(tmp_path):
    write_lines(tmp_path / "train.java-cs.txt.java", [f"int f{i}() {{ return {i}; }}" for i in range(3)]
                + [b"\xff bad", "\u2028 kept as one line"])
    write_lines(tmp_path / "train.java-cs.txt.cs", [f"int F{i}() {{ return {i}; }}" for i in range(5)])
    write_lines(tmp_path / "valid.java-cs.txt.java", ["void v() {}"])
    write_lines(tmp_path / "valid.java-cs.txt.cs", ["void V() {}"])
    data = read_task("translate", tmp_path)
    check_records(data)
    assert data.splits["train"][0] == {
        "source": "int f0() { return 0; }", "target": "int F0() { return 0; }", "idx": 0}
    # Line 3 is not UTF-8 (dropped with its pair); line 4 holds a Unicode line separator.
    assert data.splits["valid"] == [
        {"source": "\u2028 kept as one line", "target": "int F4() { return 4; }", "idx": 4}]
    assert data.splits["test"] == [{"source": "void v() {}", "target": "void V() {}", "idx": 0}]
    assert data.counts() == {"train": 3, "valid": 1, "test": 1}  # at least one record carved
    assert data.skipped == {"non_utf8_lines": 1}
    assert "test = published valid split" in data.source


def test_mismatched_line_counts_name_both_files(tmp_path):
    write_lines(tmp_path / "train.java-cs.txt.java", ["a", "b", "c"])
    write_lines(tmp_path / "train.java-cs.txt.cs", ["A", "B"])
    with pytest.raises(DataError) as error:
        read_task("translate", tmp_path)
    message = str(error.value)
    assert "train.java-cs.txt.java has 3 lines" in message and "train.java-cs.txt.cs has 2" in message


@pytest.mark.parametrize("task", ["defect", "clone", "classify", "summarize", "search", "assert",
                                  "translate"])
def test_missing_or_unrecognised_directory_is_one_line_error(tmp_path, task):
    with pytest.raises(DataError) as missing:
        read_task(task, tmp_path / "nope")
    (tmp_path / "README.md").write_text("nothing useful")
    with pytest.raises(DataError) as empty:
        read_task(task, tmp_path)
    for error, problem in ((missing, "does not exist"), (empty, "has none of the expected files")):
        message = str(error.value)
        assert "\n" not in message and problem in message and repr(task) in message
        assert "expected" in message and (CODEXGLUE_TRANS_URL in message) == (task == "translate")


def test_bad_task_or_format_and_empty_train(tmp_path):
    with pytest.raises(DataError, match="unknown task"):
        read_task("sing", tmp_path)
    with pytest.raises(DataError, match="does not provide task"):
        read_task("defect", tmp_path, fmt="atlas")
    write_jsonl(tmp_path / "train.jsonl", [{"nothing": 1}])
    with pytest.raises(DataError, match="no usable 'defect' records"):
        read_task("defect", tmp_path)


def test_missing_shared_data_fails_on_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"shared data .*no-such-copy is missing"):
        shared_data("no-such-copy")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="expected ../shared/data/no-such-copy beside the project root"):
        shared_data("no-such-copy")


def test_real_codexglue_java_to_csharp():
    data = read_task("translate", shared_data("codexglue-java-cs"))
    check_records(data)
    counts = data.counts()
    assert counts["train"] + counts["valid"] == 10295
    assert counts == {"train": 9795, "valid": 500, "test": 499}
    assert data.skipped == {}
    assert "test = published valid split" in data.source
    assert "valid = 500 of 10295 train records carved out" in data.source
    first = data.splits["test"][0]
    assert first["source"].startswith("public DVRecord(RecordInputStream in)")
    assert first["target"].startswith("public DVRecord(RecordInputStream in1)")
