"""``benchmarks/references.py``: every task's lexical floors and frozen reference in one JSON line."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from codereuse.evaluation.floors import floors
from codereuse.data.registry import load_task
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_references_of_a_retrieval_and_a_seq2seq_task(tmp_path):
    import references

    out = tmp_path / "references.json"
    line = references.main(["--tasks", "search,summarize", "--model", "tiny", "--out", str(out)])
    assert json.loads(out.read_text()) == line
    search, summarize = line["tasks"]["search"], line["tasks"]["summarize"]
    # the floors are the card's, on the whole test split
    expected = floors(load_task("search"))
    assert {name: entry["score"] for name, entry in search["floors"].items()} == pytest.approx(expected, abs=1e-4)
    assert search["floor_name"] == max(expected, key=expected.get) and search["floor_se"] > 0
    assert search["frozen_name"] == "zero_shot_mrr" and 0 < search["frozen"] < 1
    assert isinstance(search["frozen_beats_floor"], bool)
    assert summarize["frozen"] is None and summarize["floor_name"] == "nearest_target_bleu"
    assert np.isfinite(summarize["floor_se"])
