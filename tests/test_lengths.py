"""The student's length model: measured with BPEs trained at a few vocabulary sizes, interpolated
between them, and what the architecture search counts FLOPs and latency at."""
from __future__ import annotations

import ast
import inspect
import json
import textwrap

import pytest

from codereuse.compression.lengths import LengthModel, mean_length
from codereuse.compression.search import ArchitectureSearch, SearchSettings
from codereuse.compression.space import Architecture, gflops
from codereuse.compression.tokenizer import train_bpe


def functions() -> list[dict]:
    """Real code offline: every function of a few standard-library modules."""
    records = []
    for module in (json, ast, inspect, textwrap):
        tree = ast.parse(inspect.getsource(module))
        records += [{"code": ast.get_source_segment(inspect.getsource(module), node), "label": 0}
                    for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    return records


@pytest.fixture(scope="module")
def model_and_corpus():
    records = functions()
    return LengthModel.fit(records, "classification", max_length=512, sizes=(300, 600, 2400)), [r["code"] for r in records]


def test_fitted_sizes_give_the_length_a_trained_tokenizer_gives(model_and_corpus):
    model, corpus = model_and_corpus
    for size in (300, 2400):
        assert model(size) == round(mean_length(train_bpe(corpus, size), corpus, None, 512))
    assert model(300) > model(600) > model(2400)  # fewer merges, more tokens per function


def test_sizes_between_are_interpolated_close_to_a_trained_tokenizer(model_and_corpus):
    model, corpus = model_and_corpus
    trained = mean_length(train_bpe(corpus, 1200), corpus, None, 512)
    assert abs(model(1200) - trained) / trained < 0.1
    assert model(100) == model(300) and model(10_000) == model(2400)  # the end points outside the range


def test_pairs_are_measured_as_the_student_reads_them():
    records = [{"code1": r["code"], "code2": r["code"], "label": 1} for r in functions()[:50]]
    single = LengthModel.fit([{"code": r["code1"], "label": 1} for r in records], "classification", 4096, (400,))
    paired = LengthModel.fit(records, "pair", 4096, (400,))
    assert paired(400) == pytest.approx(2 * single(400) - 1, abs=1)  # <s> A </s> B </s> against <s> A </s>


def test_the_search_counts_flops_at_the_students_own_length():
    settings = SearchSettings(budget_mb=3.0, population=4, generations=1)
    search = ArchitectureSearch(settings, lambda vocab: 200 if vocab < 5000 else 100, 256, 2, progress=False)
    genes = {gene: search.space.grid(gene)[0] for gene in ("layers", "hidden", "heads", "intermediate")}
    small, large = Architecture(**genes, vocab=1000), Architecture(**genes, vocab=20000)
    assert search.evaluate(small, 0, 0).gflops == gflops(small, 200, 2)
    assert search.evaluate(large, 0, 0).gflops == gflops(large, 100, 2)
