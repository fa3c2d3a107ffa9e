"""benchmarks/cache_precision.py: the memory and disk placements of the same cached run, interleaved
per seed, and the difference of their test metric against the goal (training faked)."""
from __future__ import annotations

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import cache_precision  # noqa: E402


def test_disk_states_are_compared_with_memory_states_seed_by_seed(monkeypatch, capsys):
    calls = []

    def train_once(overrides):
        calls.append(overrides)
        on_disk = "freeze.cache_memory_gb=0" in overrides
        seed = int(next(o for o in overrides if o.startswith("seed=")).split("=")[1])
        return {"task": "search", "test/floor_name": "tfidf_mrr", "test/mrr": 0.5 + seed / 10 + (0.004 if on_disk else 0.0),
                "fit_seconds": 1.0}

    monkeypatch.setattr(cache_precision, "train_once", train_once)
    line = cache_precision.main(["--seeds", "0,1", "task=search"])
    placements = [("disk" if "freeze.cache_memory_gb=0" in c else "memory", c[-1]) for c in calls]
    assert placements == [("memory", "seed=0"), ("disk", "seed=0"), ("memory", "seed=1"), ("disk", "seed=1")]
    assert all({"freeze=top2", "freeze.cache=true", "task=search"} <= set(c) for c in calls)
    assert line["metric"] == "mrr" and line["memory"]["score"] == pytest.approx([0.5, 0.6])
    assert line["score_difference"] == pytest.approx([0.004, 0.004]) and line["goal"]["met"] is True
    assert "freeze.cache_disk_dtype=float16" in calls[1]
    assert capsys.readouterr().out.count("\n") == 1  # one JSON line
